"""Accessibility fixes for the theme's own markup, as a script on every page.

The theme's colour-mode button has an accessible name ("Color mode") that does
not contain its visible content (its icon's title), which axe-core reports as
``label-content-name-mismatch``; ``codeml_repro/sphinx/static/codeml-a11y.js`` hides the
decorative icons. Done in a script so the theme's templates stay untouched.
"""

from __future__ import annotations

from typing import Any


def setup_a11y(app: Any) -> None:
    app.add_js_file("codeml-a11y.js", loading_method="defer")
