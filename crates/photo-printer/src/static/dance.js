// Live updates of the dance view: the server sends an event whenever this
// session's log changes, and the diagram is fetched again (server-rendered
// and escaped; no framework, nothing from the network). The server opens
// the newest flow and closes the others; a flow the reader opened or closed
// stays so across updates.
(function () {
  "use strict";
  var dance = document.getElementById("dance");
  var status = document.getElementById("live-status");
  if (!dance) { return; }
  var chosen = {};
  // Only the reader's own choices (a click on a summary, or Enter / Space,
  // which click too): the flow is about to open or close.
  dance.addEventListener("click", function (e) {
    var summary = e.target.closest && e.target.closest("summary");
    var flow = summary && summary.parentElement;
    if (flow && flow.tagName === "DETAILS" && flow.id) { chosen[flow.id] = !flow.open; }
  });
  function keepChoices() {
    Object.keys(chosen).forEach(function (id) {
      var flow = document.getElementById(id);
      if (flow && flow.open !== chosen[id]) { flow.open = chosen[id]; }
    });
  }
  if (!window.EventSource) { return; }
  var loading = false, again = false;
  function reload() {
    if (loading) { again = true; return; }
    loading = true;
    fetch("/dance/steps", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { dance.innerHTML = html; keepChoices(); })
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
