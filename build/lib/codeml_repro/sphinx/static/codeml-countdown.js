/* The home page's "next deadline" countdown, kept current in the reader's browser.
 * The build wrote the days left when it ran; this recomputes them from the <time datetime>
 * (an instant in UTC, from the deadline in AoE) so an old build does not mislead. No network. */
(function () {
  "use strict";

  function words(ms) {
    if (ms <= 0) { return "passed"; }
    var days = Math.floor(ms / 86400000);
    if (days >= 1) { return days === 1 ? "in 1 day" : "in " + days + " days"; }
    var hours = Math.floor(ms / 3600000);
    return hours >= 1 ? "in " + hours + (hours === 1 ? " hour" : " hours") : "in less than an hour";
  }

  function update() {
    document.querySelectorAll("time.codeml-countdown").forEach(function (node) {
      var end = Date.parse(node.getAttribute("datetime"));
      if (!isNaN(end)) { node.textContent = words(end - Date.now()); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
  window.setInterval(update, 60000);
})();
