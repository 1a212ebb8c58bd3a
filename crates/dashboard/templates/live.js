// Follows the home: when a run writes (the ledger changes), the page fetches itself again and
// swaps in the new content — no reload, no lost scroll position. While a form field holds
// what the user is typing, the swap waits.
(function () {
  var seen = document.body.getAttribute("data-version");
  function typing() {
    var fields = document.querySelectorAll("main input:not([type=hidden]), main select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f === document.activeElement || (f.tagName === "INPUT" && f.value !== f.defaultValue)) {
        return true;
      }
    }
    return false;
  }
  function swap(html, version) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    ["main", "#kill-switch"].forEach(function (sel) {
      var now = document.querySelector(sel), next = doc.querySelector(sel);
      if (now && next) { now.replaceWith(document.adoptNode(next)); }
    });
    seen = version;
    document.body.setAttribute("data-version", version);
  }
  function poll() {
    fetch("/changes", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : seen; })
      .then(function (v) {
        if (!v || v === seen || typing()) { return; }
        return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html) { swap(html, v); } });
      })
      .catch(function () {});
  }
  setInterval(poll, 2000);
})();
