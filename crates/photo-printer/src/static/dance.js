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
  var events = new EventSource("/dance/events");
  events.addEventListener("open", function () { status.textContent = "live"; status.classList.add("on"); });
  events.addEventListener("error", function () { status.textContent = "reconnecting…"; status.classList.remove("on"); });
  events.addEventListener("step", reload);
})();
