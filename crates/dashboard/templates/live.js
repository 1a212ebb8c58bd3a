// Follows the home: when a run writes (the ledger changes), the page reloads itself.
(function () {
  var seen = document.body.getAttribute("data-version");
  function poll() {
    fetch("/changes", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : seen; })
      .then(function (v) {
        if (v && v !== seen) { window.location.reload(); }
      })
      .catch(function () {});
  }
  setInterval(poll, 3000);
})();
