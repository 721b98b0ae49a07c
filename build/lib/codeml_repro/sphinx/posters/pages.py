"""A page per submission, generated through Sphinx's ``html-collect-pages`` event.

Pages made this way (like ``genindex`` and ``search``) are not documents, so
they need no toctree entry and no generated source files, and they survive
``-W``. Their body is HTML built with :mod:`codeml_repro.sphinx.html`'s
escaping helpers: author text is always escaped. The same event writes the
badges (``badges/<slug>.svg``, ``badges/<slug>.json``) and copies the executed
notebooks (``notebooks/<slug>.ipynb``) beside the HTML.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from codeml_repro.model.artifact import describe_tolerance
from codeml_repro.model.result import RunRecord, Status
from codeml_repro.results.badges import REVIEWED, endpoint_json, message, status_svg, tiers_svg
from codeml_repro.sphinx.html import Child, Markup, table, tag
from codeml_repro.sphinx.posters.credit import cite_html, launch_html, publish_credit, workshop
from codeml_repro.sphinx.posters.entries import (
    Entry,
    listing_doc,
    load_build_entries,
    page_name,
    uri_from,
)
from codeml_repro.sphinx.posters.inputs import inputs_html
from codeml_repro.sphinx.posters.listing import LINK_LABELS
from codeml_repro.sphinx.posters.nbrender import render_notebook
from codeml_repro.sphinx.posters.runview import last_run_html, rounded
from codeml_repro.sphinx.posters.tierview import badge_html, review_html, tier_views
from codeml_repro.sphinx.posters.versions import value_text, versions_html

HISTORY_SHOWN = 20
PageSpec = tuple[str, dict[str, Any], str]


def section(ident: str, title: str, *children: Child) -> Markup:
    return tag("section", {"id": ident}, tag("h2", None, title), *children)


#: What each badge means, in a reader's words (the guide has ACM's definitions).
TIER_MEANINGS = {
    "available": "the code is archived with a DOI or a Software Heritage id",
    "functional": "our CI ran the authors' notebook to the end",
    "reproduced": "every number the paper claims came out within its tolerance on our re-run",
    REVIEWED: "the organizers looked at the artifact and judged it reusable",
}


def badges_html(app: Any, entry: Entry) -> Markup:
    """Each badge once, earned or not, with what it means; why one is missing, in a reader's words."""
    name = page_name(app, entry.slug)
    items: list[Child] = []
    for view in tier_views(entry):
        why = "" if view.earned else f" Not earned{': ' + view.reason if view.reason else ''}."
        items.append(tag("li", None, badge_html(app, name, view), f": {TIER_MEANINGS[view.tier]}.{why}"))
    mark = tag("span", {"class": "codeml-regressed"}, "regressed") if entry.regressed else None
    review = review_html(entry)
    example = tag("p", {"class": "codeml-example-note"}, tag("span", {"class": "codeml-example"}, "example"),
                  " An example submission, not an accepted paper.") if entry.spec.example else None
    return tag("section", {"id": "badges", "aria-label": "Badges"}, example,
               tag("ul", {"class": "codeml-badges codeml-badge-meanings"}, items),
               tag("p", {"class": "codeml-regressed-note"}, mark, " It used to reproduce and no longer does.")
               if mark else None, review)


def header_html(entry: Entry) -> list[Child]:
    spec = entry.spec
    authors: list[Child] = []
    for i, author in enumerate(spec.authors):
        name = tag("a", {"href": author.url}, author.name) if author.url else author.name
        aff = (
            tag("span", {"class": "codeml-affiliation"}, f" ({author.affiliation})")
            if author.affiliation
            else None
        )
        authors += ["; " if i else None, tag("span", {"class": "codeml-author"}, name, aff)]
    links: list[Child] = []
    for key, label in LINK_LABELS.items():
        url = getattr(spec.links, key)
        if url:
            links += [" · " if links else None, tag("a", {"href": url, "class": f"codeml-link-{key}"}, label)]
    return [
        tag("p", {"class": "codeml-authors"}, authors),
        tag("p", {"class": "codeml-session"}, "Session: ", spec.session) if spec.session else None,
        tag("p", {"class": "codeml-links"}, links) if links else None,
    ]


def abstract_html(text: str) -> Markup:
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()] or ["No abstract given."]
    return section(
        "abstract",
        "Abstract",
        tag("div", {"class": "codeml-abstract"}, [tag("p", None, p) for p in paragraphs]),
    )


def claims_html(entry: Entry) -> Markup:
    headers = ["Claim", "Description", "Expected", "Observed", "Tolerance", "Result"]
    rows: list[list[Child]] = []
    observed = {c.name: c for c in entry.result.claims} if entry.result else {}
    for claim in entry.spec.claims:
        got = observed.get(claim.name)
        if got is None or entry.stale:
            verdict, shown = ("pending", "—")
        elif not got.recorded:
            verdict, shown = ("not recorded" if got.reached else "not reached", "—")
        else:
            verdict, shown = ("pass" if got.ok else "fail", rounded(got.observed, claim))
        rows.append(
            [
                tag("code", None, claim.name),
                claim.description,
                value_text(claim.expected),
                shown,
                describe_tolerance(claim),
                tag("span", {"class": f"codeml-claim-{verdict.replace(' ', '-')}"}, verdict),
            ]
        )
    if not rows:
        return section("claims", "Claims", tag("p", None, "This submission declares no claims."))
    return section("claims", "Claims", table(headers, rows, "codeml-claims"))


def history_rows(history: list[RunRecord]) -> list[list[Child]]:
    """Newest first; a run that stopped reproducing after one that did is marked."""
    rows: list[list[Child]] = []
    previous = None  # the last status that was a real run: a skipped run neither regresses nor hides one
    for rec in history:
        regressed = previous is Status.REPRODUCED and rec.status not in (Status.REPRODUCED, Status.SKIPPED)
        if rec.status is not Status.SKIPPED:
            previous = rec.status
        status: list[Child] = [
            tag("span", {"class": f"codeml-status codeml-status-{rec.status.value}"}, message(rec.status))
        ]
        if regressed:
            status += [" ", tag("span", {"class": "codeml-regressed"}, "regressed")]
        rows.append(
            [
                rec.finished_at or "—",
                status,
                f"{rec.duration_s:.1f} s",
                rec.error_type or "",
                "yes" if rec.flaky else "",
            ]
        )
    return rows[::-1][:HISTORY_SHOWN]


def history_html(entry: Entry) -> Markup | None:
    if not entry.history:
        return None
    mark = (
        tag(
            "p",
            {"class": "codeml-regressed-note"},
            tag("span", {"class": "codeml-regressed"}, "regressed"),
            " It used to reproduce and no longer does.",
        )
        if entry.regressed
        else None
    )
    rows = history_rows(entry.history)
    return fold(
        "history",
        f"History ({len(entry.history)} runs)",
        mark,
        table(["Finished", "Status", "Duration", "Error", "Flaky"], rows, "codeml-history"),
    )


def notebook_html(entry: Entry, download: str) -> Markup:
    if entry.notebook is None:
        return section("notebook", "Executed notebook", tag("p", None, "No executed notebook recorded yet."))
    try:
        text = entry.notebook.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return section(
            "notebook", "Executed notebook", tag("p", None, "The executed notebook cannot be read.")
        )
    link = tag(
        "a",
        {"href": download, "download": f"{entry.slug}.ipynb", "class": "codeml-download"},
        "Download the executed notebook",
    )
    note = " (only text and PNG/JPEG outputs are shown below)"
    return section("notebook", "Executed notebook", tag("p", None, link, note), render_notebook(text))


def embed_html(app: Any, entry: Entry) -> Markup | None:
    """Badge snippets for the authors' README; only when the site's URL is known (``html.baseurl``)."""
    base = str(app.config.html_baseurl or "").rstrip("/")
    if not base:
        return None
    page = f"{base}/{app.builder.get_target_uri(page_name(app, entry.slug))}"
    endpoint = f"{base}/badges/{entry.slug}.json"
    shields = f"https://img.shields.io/endpoint?url={quote(endpoint, safe='')}"
    label = workshop(app).names.label.replace("[", "(").replace("]", ")")  # Markdown link text
    snippets = [
        ("Markdown, shields.io endpoint", f"[![{label}]({shields})]({page})"),
        ("Markdown, SVG from this site", f"[![{label}]({base}/badges/{entry.slug}.svg)]({page})"),
        ("Endpoint JSON URL", endpoint),
    ]
    blocks = [
        [tag("p", None, label), tag("div", {"class": "highlight codeml-snippet"}, tag("pre", None, text))]
        for label, text in snippets
    ]
    return fold("embed", "Embed the badge", tag("p", None, "Copy one of these into your README."), blocks)


def fold(ident: str, title: str, *children: Child) -> Markup:
    """A section readers open when they want it: ``<details>`` with its title as the summary."""
    return tag("details", {"class": "codeml-more", "id": ident}, tag("summary", None, title), *children)


def page_body(app: Any, entry: Entry) -> Markup:
    name = page_name(app, entry.slug)
    listing = listing_doc(app, entry.edition)
    back = f"All posters of {entry.edition}" if entry.edition else "All posters"
    notebook = uri_from(app, name, f"notebooks/{entry.slug}.ipynb")
    return tag(
        "article",
        {"class": "codeml-submission", "id": entry.slug},
        tag("h1", None, entry.spec.title),
        header_html(entry),
        badges_html(app, entry),
        abstract_html(entry.spec.abstract),
        claims_html(entry),
        last_run_html(entry, "#notebook"),
        cite_html(app, entry),
        launch_html(app, entry),
        versions_html(entry),
        inputs_html(list(entry.spec.artifact.data)),
        history_html(entry),
        embed_html(app, entry),
        notebook_html(entry, notebook),
        tag("p", {"class": "codeml-back"}, tag("a", {"href": uri_from(app, name, listing)}, back)),
    )


def publish_files(outdir: Path, entry: Entry, label: str) -> None:
    """Badges (``label``: the workshop's badge label) and the executed notebook, at stable URLs."""
    badges = outdir / "badges"
    badges.mkdir(parents=True, exist_ok=True)
    (badges / f"{entry.slug}.svg").write_text(status_svg(entry.status, label), encoding="utf-8")
    archived, reviewed = "available" in entry.tiers, REVIEWED in entry.tiers
    tiers = tiers_svg(entry.status, archived, reviewed)
    (badges / f"{entry.slug}-tiers.svg").write_text(tiers, encoding="utf-8")
    endpoint = json.dumps(endpoint_json(entry.status, label), indent=2) + "\n"
    (badges / f"{entry.slug}.json").write_text(endpoint, encoding="utf-8")
    if entry.notebook is not None:
        target = outdir / "notebooks" / f"{entry.slug}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.notebook, target)


def collect_pages(app: Any) -> Iterator[PageSpec]:
    """``html-collect-pages``: one page per submission (HTML builders with pages only)."""
    from sphinx.builders.html import StandaloneHTMLBuilder

    if not isinstance(app.builder, StandaloneHTMLBuilder) or app.builder.name == "singlehtml":
        return
    outdir = Path(app.builder.outdir)
    entries = load_build_entries(app, warn=False, every_edition=True)
    publish_credit(app, outdir, entries)
    for entry in entries:
        publish_files(outdir, entry, workshop(app).names.label)
        # The theme treats a page title as HTML: give it escaped text.
        title = escape(entry.spec.title)
        context = {"title": title, "body": str(page_body(app, entry)), "display_toc": False}
        yield page_name(app, entry.slug), context, "page.html"
