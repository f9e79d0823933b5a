// Live updates of the dance view: the server sends an event whenever this
// session's log changes, and the diagram is fetched again (server-rendered
// and escaped; no framework, nothing from the network).
(function () {
  "use strict";
  var dance = document.getElementById("dance");
  var status = document.getElementById("live-status");
  if (!dance || !window.EventSource) { return; }
  var loading = false, again = false;
  function reload() {
    if (loading) { again = true; return; }
    loading = true;
    fetch("/dance/steps", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { dance.innerHTML = html; })
      .catch(function () {})
      .finally(function () { loading = false; if (again) { again = false; reload(); } });
  }
  function show(text, on) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle("on", on);
  }
  var events = new EventSource("/dance/events");
  // Steps made between the page load (or a dropped connection) and the
  // subscription arrive with no event: fetch once on every (re)connect.
  events.addEventListener("open", function () { show("live", true); reload(); });
  events.addEventListener("error", function () { show("reconnecting…", false); });
  events.addEventListener("step", reload);
})();
