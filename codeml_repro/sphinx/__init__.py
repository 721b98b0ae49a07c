"""The Sphinx extension the CODEML book loads (``sphinx: extra_extensions``).

Each component registers itself in its own ``setup_*`` function, imported
lazily here so that importing ``codeml_repro`` stays cheap.
"""

from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    from codeml_repro import __version__
    from codeml_repro.sphinx.posters import setup_posters
    from codeml_repro.sphinx.workshop.a11y import setup_a11y
    from codeml_repro.sphinx.workshop.favicon import setup_favicon
    from codeml_repro.sphinx.workshop.site import setup_site

    setup_site(app)
    setup_favicon(app)
    setup_a11y(app)
    setup_posters(app)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
