"""The Sphinx extension the CODEML book loads (``sphinx: extra_extensions``).

Each component registers itself in its own ``setup_*`` function, imported
lazily here so that importing ``codeml_repro`` stays cheap. The stylesheets,
scripts and favicon the pages link ship in ``static/`` inside the package and
are added to ``html_static_path`` here, so the extension works from a wheel in
any Jupyter Book 1, with no files copied into the book.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
#: Theme components replaced by the extension's own (``search-button-field.html``: see its comment).
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _add_static(app: Any, config: Any) -> None:
    """Put the package's assets first on the static path (a book's own files of the same name win),
    use its favicon unless the book names one, and keep the submissions out of the book's pages."""
    paths = list(config.html_static_path or [])
    if str(STATIC) not in paths:
        config.html_static_path = [str(STATIC), *paths]
    if str(TEMPLATES) not in (config.templates_path or []):
        config.templates_path = [str(TEMPLATES), *(config.templates_path or [])]
    if not config.html_favicon:
        config.html_favicon = str(STATIC / "favicon.svg")
    # The artifacts' notebooks and results are the toolkit's input, never pages of the book.
    root = Path(app.srcdir, str(getattr(config, "codeml_root", "."))).resolve()
    src = Path(app.srcdir).resolve()
    if root == src or src in root.parents:
        prefix = root.relative_to(src).as_posix().strip(".").strip("/")
        for folder in ("submissions", "results", "editions/*/submissions"):
            pattern = f"{prefix}/{folder}" if prefix else folder
            if pattern not in config.exclude_patterns:
                config.exclude_patterns = [*config.exclude_patterns, pattern]


def setup(app: Any) -> dict[str, Any]:
    from codeml_repro import __version__
    from codeml_repro.sphinx.posters import setup_posters
    from codeml_repro.sphinx.workshop.a11y import setup_a11y
    from codeml_repro.sphinx.workshop.favicon import setup_favicon
    from codeml_repro.sphinx.workshop.pagepolicy import setup_pagepolicy
    from codeml_repro.sphinx.workshop.site import setup_site

    app.connect("config-inited", _add_static)
    setup_site(app)
    setup_favicon(app)
    setup_a11y(app)
    setup_posters(app)
    setup_pagepolicy(app)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
