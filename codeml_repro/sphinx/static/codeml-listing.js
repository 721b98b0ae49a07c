/* Poster listing filter of the CODEML book: by badge tier and by text.
 * No dependencies, no network. Without JavaScript every card stays visible;
 * this script only adds the controls and hides cards that do not match.
 * Card text is read with textContent and never written back as HTML. */
(function () {
  "use strict";

  var TIERS = [
    ["", "All submissions"],
    ["reusable", "Reusable (reviewed)"],
    ["reproduced", "Reproduced (automated re-run)"],
    ["functional", "Functional (automated run)"],
    ["available", "Available (archived)"],
    ["none", "No badge"],
    ["skipped", "Not checked here (needs a GPU or more memory)"]
  ];

  function element(name, attrs, text) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function matchesTier(card, tier) {
    if (!tier) { return true; }
    if (tier === "none") { return card.classList.contains("codeml-top-none"); }
    if (tier === "skipped") { return card.classList.contains("codeml-status-skipped"); }
    return card.classList.contains("codeml-tier-" + tier);
  }

  // Badge labels are left out: every card names all three tiers, earned or not.
  function searchableText(card) {
    var walker = document.createTreeWalker(card, NodeFilter.SHOW_TEXT);
    var parts = [];
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.parentElement.closest(".codeml-badge")) { parts.push(n.nodeValue); }
    }
    return parts.join(" ").toLowerCase();
  }

  function matchesText(card, terms) {
    var text = searchableText(card);
    return terms.every(function (term) { return text.indexOf(term) !== -1; });
  }

  function controls(listing) {
    var form = element("form", { "class": "codeml-filter", role: "search", "aria-label": "Filter posters" });
    var tierLabel = element("label", { "for": "codeml-filter-tier" }, "Badge");
    var select = element("select", { id: "codeml-filter-tier", name: "tier" });
    TIERS.forEach(function (pair) { select.appendChild(element("option", { value: pair[0] }, pair[1])); });
    var textLabel = element("label", { "for": "codeml-filter-text" }, "Search");
    var input = element("input", {
      id: "codeml-filter-text", name: "q", type: "search",
      placeholder: "title, author, affiliation…", autocomplete: "off"
    });
    var count = element("output", { id: "codeml-filter-count", "aria-live": "polite" });
    [tierLabel, select, textLabel, input, count].forEach(function (n) { form.appendChild(n); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    listing.parentNode.insertBefore(form, listing);
    return { select: select, input: input, count: count };
  }

  function init() {
    var listing = document.querySelector(".codeml-listing");
    if (!listing) { return; }
    var cards = Array.prototype.slice.call(listing.querySelectorAll(".codeml-card"));
    var ui = controls(listing);
    var params = new URLSearchParams(window.location.search);
    ui.select.value = params.get("tier") || "";
    ui.input.value = params.get("q") || "";

    function apply() {
      var tier = ui.select.value;
      var terms = ui.input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      cards.forEach(function (card) {
        var visible = matchesTier(card, tier) && matchesText(card, terms);
        card.hidden = !visible;
        if (visible) { shown += 1; }
      });
      ui.count.textContent = "Showing " + shown + " of " + cards.length;
    }

    ui.select.addEventListener("change", apply);
    ui.input.addEventListener("input", apply);
    apply();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
