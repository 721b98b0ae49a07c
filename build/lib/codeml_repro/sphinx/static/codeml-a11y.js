/* Accessibility fixes for the theme's header, on every page. No dependencies, no network.
 * The colour-mode button is labelled "Color mode" but shows an icon whose SVG title
 * ("Light", "Dark", ...) counts as its visible text, so its name does not match what it
 * shows (axe: label-content-name-mismatch). The icons only decorate a labelled button:
 * hide them from assistive technology. Font Awesome draws them after load, so watch. */
(function () {
  "use strict";

  var SELECTOR = ".theme-switch-button svg, .theme-switch-button i";

  function hideIcons(root) {
    Array.prototype.forEach.call(root.querySelectorAll(SELECTOR), function (icon) {
      if (icon.getAttribute("aria-hidden") !== "true") {
        icon.setAttribute("aria-hidden", "true");
        icon.removeAttribute("role");
        icon.removeAttribute("aria-labelledby");
      }
    });
  }

  function init() {
    hideIcons(document);
    Array.prototype.forEach.call(document.querySelectorAll(".theme-switch-button"), function (button) {
      new MutationObserver(function () { hideIcons(button); }).observe(button, { childList: true, subtree: true });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
