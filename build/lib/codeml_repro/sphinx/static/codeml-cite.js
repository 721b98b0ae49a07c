/* "Copy BibTeX" on the poster pages (codeml-repro). No dependencies, no network.
 * The button is hidden in the HTML and shown here, so readers without
 * JavaScript never see a button that does nothing; the entry stays selectable. */
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function setup(button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    var source = box && (box.querySelector("pre") || box);
    if (!source) { return; }
    var status = document.createElement("span");
    status.className = "codeml-copy-status";
    status.setAttribute("role", "status");
    button.parentNode.insertBefore(status, button.nextSibling);
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(source.textContent).then(
        function () { status.textContent = " Copied."; },
        function () { status.textContent = " Could not copy: select the entry and copy it."; }
      );
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("button.codeml-copy[data-copy]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
