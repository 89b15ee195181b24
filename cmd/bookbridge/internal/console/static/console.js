// bookbridge console: small conveniences on top of pages that work without
// JavaScript. No inline handlers; the Content-Security-Policy allows only
// this file.
(function () {
  "use strict";

  // Forms with data-confirm ask before they submit (revoking a key,
  // choosing a review candidate).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    if (question) {
      if (!window.confirm(question)) {
        ev.preventDefault();
        return;
      }
      // Confirmed here: the server need not ask again on a page of its
      // own (which is what it does without JavaScript).
      var confirmed = form.querySelector("input[name=confirmed]");
      if (confirmed) { confirmed.value = "1"; }
    }
    // A second press while the first request is on its way does nothing.
    if (form.getAttribute("data-sent") === "1") {
      ev.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-busy", "true");
    }
  });

  // The job page polls its status and reloads itself when the job is done.
  var progress = document.getElementById("job-progress");
  if (!progress || progress.getAttribute("data-done") === "true") {
    return;
  }
  var url = progress.getAttribute("data-status-url");
  var state = document.getElementById("job-state");
  var polls = 0;
  var maxPolls = 900; // 15 minutes at one poll a second
  function poll() {
    polls++;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("status " + resp.status); }
        return resp.json();
      })
      .then(function (job) {
        if (state && job.label) { state.textContent = job.label; }
        if (job.done) {
          window.location.reload();
        } else if (polls < maxPolls) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        // Leave the page as it is; the reload link still works.
        if (state) { state.textContent = state.textContent + " (progress unknown: reload the page)"; }
      });
  }
  window.setTimeout(poll, 700);
})();
