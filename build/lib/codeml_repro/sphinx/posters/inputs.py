"""The inputs a submission declares (``artifact.data``), as its page lists them for readers.

Readers see what a result depends on: each file or model, where it comes from
(a link), its size, the start of its sha256 (or the pinned commit) and its
license. Author text is escaped like everything else on the page; links are
the URLs the model accepted (http/https only).
"""

from __future__ import annotations

from codeml_repro.model.inputs import DataInput
from codeml_repro.sphinx.html import Child, Markup, table, tag, void

# Data failures, in words an author (and a reader) understands.
DATA_ERROR_WORDS = {
    "DataUnavailable": "A declared input could not be downloaded, so no cell ran.",
    "DataMismatch": "A declared input had other bytes than its declared sha256, so no cell ran.",
    "DataTooLarge": "The declared inputs grew past the data budget, so no cell ran.",
}


def size_text(n: int | None) -> str:
    """Bytes as readers read them (decimal units, as download pages show them)."""
    if n is None:
        return "—"
    if n < 1000:
        return f"{n} B"
    units = ("kB", "MB", "GB", "TB")
    value, index = n / 1000, 0
    while value >= 1000 and index < len(units) - 1:
        value, index = value / 1000, index + 1
    return f"{value:.1f} {units[index]}"


def _source(entry: DataInput) -> Child:
    if entry.source == "shipped":
        return "shipped in the submission folder"
    label = {"url": "download", "doi": f"doi:{entry.doi}", "hf": "Hugging Face Hub"}[entry.source]
    return tag("a", {"href": entry.location, "rel": "nofollow noopener"}, label)


def _identity(entry: DataInput) -> Child:
    if entry.hf is not None:
        return [tag("code", {"title": entry.hf.revision}, entry.hf.revision[:12]), " (commit)"]
    return tag("code", {"title": entry.sha256}, (entry.sha256 or "")[:12])


def inputs_html(entries: list[DataInput]) -> Markup | None:
    """The declared inputs, folded on the page (None when there are none)."""
    if not entries:
        return None
    rows: list[list[Child]] = [
        [
            [tag("code", None, entry.name), void("br", {}) if entry.description else None, entry.description],
            _source(entry),
            size_text(entry.size),
            _identity(entry),
            entry.license or "—",
        ]
        for entry in entries
    ]
    headers = ["Input", "Source", "Size", "sha256 / commit", "License"]
    intro = tag(
        "p", None,
        "The run fetched these inputs before the notebook started, checked each against its "
        "hash (or pinned commit), and gave them to the notebook read-only, with no network.",
    )
    listing = table(headers, rows, "codeml-inputs")
    summary = tag("summary", None, f"Data inputs ({len(entries)})")
    return tag("details", {"class": "codeml-more", "id": "inputs"}, summary, intro, listing)
