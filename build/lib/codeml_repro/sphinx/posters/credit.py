"""Credit on every poster page ("Cite this", "Open the artifact") and the files behind it.

Beside the HTML: ``cite/<slug>.bib`` and ``cite/<slug>.cff`` (downloaded as
``CITATION.cff``), ``cite/<short-name slug>-<year>.bib`` with every poster of the
current edition, ``register.json`` / ``register.csv`` (see :mod:`.register`),
and ``downloads/<slug>.zip``, the submission folder as it was built. The copy
button is ``codeml_repro/sphinx/static/codeml-cite.js``: no network, no library.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

from codeml_repro.sphinx.html import Child, Markup, tag
from codeml_repro.sphinx.posters.citation import Workshop, bibtex, citation_cff, read_workshop
from codeml_repro.sphinx.posters.entries import Entry, codeml_root, page_name, uri_from
from codeml_repro.sphinx.posters.launch import launch_links
from codeml_repro.sphinx.posters.register import register_csv, register_json, row

ENV_WORKSHOP = "_codeml_workshop"


def workshop(app: Any) -> Workshop:
    """The workshop's name, venue and year, read once per build."""
    cached: Workshop | None = getattr(app, ENV_WORKSHOP, None)
    if cached is None:
        data_dir = Path(app.srcdir) / str(getattr(app.config, "codeml_data_dir", "book/_data"))
        cached = read_workshop(data_dir, dt.date.today().year)
        setattr(app, ENV_WORKSHOP, cached)
    return cached


def entry_workshop(app: Any, entry: Entry) -> Workshop:
    """A past edition's poster is cited with that edition's year."""
    current = workshop(app)
    if entry.edition is None:
        return current
    return current.for_year(entry.edition)


def page_url(app: Any, entry: Entry) -> str | None:
    """The absolute URL of the poster page, when the site's URL is configured."""
    base = str(app.config.html_baseurl or "").rstrip("/")
    return f"{base}/{app.builder.get_target_uri(page_name(app, entry.slug))}" if base else None


def workshop_bib_name(app: Any) -> str:
    w = workshop(app)
    return f"cite/{w.names.slug}-{w.year}.bib"


def cite_html(app: Any, entry: Entry) -> Markup:
    """"Cite this": the BibTeX entry with a copy button, and the files to download."""
    name = page_name(app, entry.slug)
    text = bibtex(entry.spec, entry.slug, entry_workshop(app, entry), page_url(app, entry))
    block_id = f"codeml-bibtex-{entry.slug}"
    copy = tag(
        "button",
        {"type": "button", "class": "codeml-copy", "data-copy": block_id, "hidden": "hidden"},
        "Copy BibTeX",
    )
    files: list[Child] = [
        tag("a", {"href": uri_from(app, name, f"cite/{entry.slug}.bib"), "download": f"{entry.slug}.bib"},
            "BibTeX file"),
        " · ",
        tag("a", {"href": uri_from(app, name, f"cite/{entry.slug}.cff"), "download": "CITATION.cff"},
            "CITATION.cff"),
        " · ",
        tag("a", {"href": uri_from(app, name, workshop_bib_name(app))}, "all posters of the workshop (.bib)"),
    ]
    return tag(
        "section",
        {"id": "cite"},
        tag("h2", None, "Cite this"),
        # Not "highlight": sphinx-copybutton rewrites the ids of those blocks' <pre>.
        tag("div", {"class": "codeml-snippet codeml-bibtex", "id": block_id}, tag("pre", None, text)),
        tag("p", {"class": "codeml-cite-actions"}, copy, " ", files),
    )


def launch_html(app: Any, entry: Entry) -> Markup:
    """"Open the artifact": Binder/Colab when they can work, and the folder as a zip."""
    name = page_name(app, entry.slug)
    links: list[Child] = []
    for label, url in launch_links(entry.spec.links.code):
        links += [tag("a", {"href": url, "class": "codeml-launch"}, label), " · "]
    links.append(
        tag("a", {"href": uri_from(app, name, f"downloads/{entry.slug}.zip"), "download": f"{entry.slug}.zip",
                  "class": "codeml-download-folder"}, "Download this folder")
    )
    note = " (the submission's files: notebook, submission.yml and data, as this page was built)"
    return tag("section", {"id": "open"}, tag("h2", None, "Open the artifact"), tag("p", None, links, note))


def _zip_folder(folder: Path, target: Path) -> None:
    """The submission folder as a zip; regular files only (a link could point anywhere)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and not any(p.is_symlink() for p in path.parents):
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    tmp.replace(target)


def publish_credit(app: Any, outdir: Path, entries: list[Entry]) -> None:
    """Per poster: .bib, .cff and the folder's zip; the current edition's papers: the .bib and register."""
    cite = outdir / "cite"
    cite.mkdir(parents=True, exist_ok=True)
    root = codeml_root(app)
    current = [e for e in entries if e.edition is None and not e.spec.example]  # examples: no paper
    for entry in entries:
        w, url = entry_workshop(app, entry), page_url(app, entry)
        (cite / f"{entry.slug}.bib").write_text(bibtex(entry.spec, entry.slug, w, url), encoding="utf-8")
        (cite / f"{entry.slug}.cff").write_text(citation_cff(entry.spec, w, url), encoding="utf-8")
        folder = root / "submissions" / entry.slug
        if entry.edition is None and folder.is_dir():
            _zip_folder(folder, outdir / "downloads" / f"{entry.slug}.zip")
    every = "\n".join(bibtex(e.spec, e.slug, workshop(app), page_url(app, e)) for e in current)
    (outdir / workshop_bib_name(app)).write_text(every, encoding="utf-8")
    rows = [row(e, app.builder.get_target_uri(page_name(app, e.slug))) for e in current]
    (outdir / "register.json").write_text(register_json(rows), encoding="utf-8")
    (outdir / "register.csv").write_text(register_csv(rows), encoding="utf-8")
