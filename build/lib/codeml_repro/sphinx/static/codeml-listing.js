/* Poster listing filter of the book (codeml-repro): by badge tier,
 * by session and by text, kept in the address (?tier=&session=&q=) so a view can be shared.
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

  // A card's session, from its "Session: ..." line (empty when it has none).
  function sessionOf(card) {
    var line = card.querySelector(".codeml-session");
    return line ? line.textContent.replace(/^Session:\s*/, "").trim() : "";
  }

  function field(label, control) {
    var box = element("span", { "class": "codeml-filter-field" });
    box.appendChild(label);
    box.appendChild(control);
    return box;
  }

  function controls(listing, sessions) {
    var form = element("form", { "class": "codeml-filter", role: "search", "aria-label": "Filter posters" });
    var select = element("select", { id: "codeml-filter-tier", name: "tier" });
    TIERS.forEach(function (pair) { select.appendChild(element("option", { value: pair[0] }, pair[1])); });
    form.appendChild(field(element("label", { "for": "codeml-filter-tier" }, "Badge"), select));
    var session = null;
    if (sessions.length > 1) {
      session = element("select", { id: "codeml-filter-session", name: "session" });
      session.appendChild(element("option", { value: "" }, "All sessions"));
      sessions.forEach(function (name) { session.appendChild(element("option", { value: name }, name)); });
      form.appendChild(field(element("label", { "for": "codeml-filter-session" }, "Session"), session));
    }
    var input = element("input", {
      id: "codeml-filter-text", name: "q", type: "search",
      placeholder: "title, author, affiliation…", autocomplete: "off"
    });
    form.appendChild(field(element("label", { "for": "codeml-filter-text" }, "Search"), input));
    var count = element("output", { id: "codeml-filter-count", "aria-live": "polite" });
    form.appendChild(count);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    listing.parentNode.insertBefore(form, listing);
    return { select: select, session: session, input: input, count: count };
  }

  // The filters live in the address (?tier=&session=&q=): a filtered view can be shared and is restored.
  function writeQuery(ui) {
    var params = new URLSearchParams(window.location.search);
    [["tier", ui.select.value], ["session", ui.session ? ui.session.value : ""], ["q", ui.input.value.trim()]]
      .forEach(function (pair) { if (pair[1]) { params.set(pair[0], pair[1]); } else { params.delete(pair[0]); } });
    var query = params.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    window.history.replaceState(null, "", url);
  }

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = known ? value : "";
  }

  function init() {
    var listing = document.querySelector(".codeml-listing");
    if (!listing) { return; }
    var cards = Array.prototype.slice.call(listing.querySelectorAll(".codeml-card"));
    var sessions = [];
    cards.forEach(function (card) {
      var name = sessionOf(card);
      if (name && sessions.indexOf(name) === -1) { sessions.push(name); }
    });
    sessions.sort();
    var ui = controls(listing, sessions);
    var params = new URLSearchParams(window.location.search);
    choose(ui.select, params.get("tier") || "");
    if (ui.session) { choose(ui.session, params.get("session") || ""); }
    ui.input.value = params.get("q") || "";

    function apply() {
      var tier = ui.select.value;
      var session = ui.session ? ui.session.value : "";
      var terms = ui.input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      cards.forEach(function (card) {
        var visible = matchesTier(card, tier) && matchesText(card, terms) &&
          (!session || sessionOf(card) === session);
        card.hidden = !visible;
        if (visible) { shown += 1; }
      });
      ui.count.textContent = "Showing " + shown + " of " + cards.length;
    }

    function changed() { apply(); writeQuery(ui); }

    ui.select.addEventListener("change", changed);
    if (ui.session) { ui.session.addEventListener("change", changed); }
    ui.input.addEventListener("input", changed);
    apply();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
