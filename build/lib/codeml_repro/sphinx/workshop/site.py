"""Directives that render the site pages from ``book/_data/*.yml``, and the extension's site half.

This module is the Sphinx side: it finds and loads the data (a bad file stops the build with
one line), makes each page depend on the data files, registers the directives, config values
and event hooks, and writes the ``.ics``. What a block looks like is :mod:`.blocks`' job.

Directives (one per block of the old site):

``codeml-workshop``   the hero (tagline, venue, next deadline, calls to action), intro
``codeml-dates``      the Important Dates table (TBD shown as TBD)
``codeml-cfp``        ``topics`` or ``submissions`` part of the Call for Papers
``codeml-schedule``   the schedule table and the link to the ``.ics`` export
``codeml-speakers``   speaker cards, or "Coming soon!"
``codeml-organizers`` grid of organizer cards
``codeml-news``       dated news, newest first (``:limit: N``)

Each takes ``:edition: YEAR`` to render a past edition from ``editions/YEAR/_data/``
(its speaker labels and poster links are then that edition's own).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import SphinxError
from sphinx.util.docutils import SphinxDirective

from codeml_repro.model.editions import data_dir as edition_data_dir
from codeml_repro.model.errors import DataInvalid
from codeml_repro.sphinx.workshop.blocks import (
    render_calendar_note,
    render_cfp_submissions,
    render_cfp_topics,
    render_coming_soon,
    render_dates,
    render_news,
    render_organizers,
    render_schedule,
    render_speaker,
    render_workshop,
)
from codeml_repro.sphinx.workshop.data import DATA_FILES, SiteData, load_site_data


class CodemlDataError(SphinxError, DataInvalid):
    """A book data file is invalid; Sphinx prints the category, then our one line.

    A ``SphinxError`` so that Sphinx stops the build with that line (any other exception is shown
    as a crash with a traceback), and a ``DataInvalid`` like every deliberate error of the toolkit."""

    category = "Workshop data error"


def data_paths(config: Any, srcdir: str | Path, edition: int | None = None) -> tuple[Path, Path]:
    """``(data_dir, root)`` from ``codeml_data_dir`` and ``codeml_root`` (relative to the source dir).

    A past ``edition`` reads ``editions/<year>/_data`` under the root instead.
    """
    root = Path(srcdir, config.codeml_root)
    if edition is not None:
        return edition_data_dir(root, edition), root
    return root / config.codeml_data_dir, root


@functools.lru_cache(maxsize=4)
def _load(data_dir: Path, root: Path, stamps: tuple[int, ...]) -> SiteData:
    del stamps  # part of the cache key only: an edited file is read again
    return load_site_data(data_dir, root)


def site_data(config: Any, srcdir: str | Path, edition: int | None = None) -> SiteData:
    """Load (or reuse) the validated data; a bad file raises :class:`CodemlDataError`."""
    data_dir, root = data_paths(config, srcdir, edition)
    files = [data_dir / f"{name}.yml" for name in DATA_FILES]
    stamps = tuple(path.stat().st_mtime_ns if path.is_file() else -1 for path in files)
    try:
        return _load(data_dir, root, stamps)
    except DataInvalid as exc:
        raise CodemlDataError(str(exc)) from None


# -- directives -------------------------------------------------------------------


class _DataDirective(SphinxDirective):
    """Base: loads the site data and makes the page depend on the data files."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"edition": directives.positive_int}

    @property
    def edition(self) -> int | None:
        """The past edition (a year) this block shows, or None for the current one."""
        year: int | None = self.options.get("edition")
        return year

    def site(self) -> SiteData:
        data_dir, _root = data_paths(self.config, self.env.srcdir, self.edition)
        for name in DATA_FILES:
            self.env.note_dependency(str(data_dir / f"{name}.yml"))
        return site_data(self.config, self.env.srcdir, self.edition)


class WorkshopDirective(_DataDirective):
    def run(self) -> list[nodes.Node]:
        return render_workshop(self.site(), self.env.docname, self.edition)


class DatesDirective(_DataDirective):
    def run(self) -> list[nodes.Node]:
        return render_dates(self.site())


class CfpDirective(_DataDirective):
    required_arguments = 1
    parts: ClassVar[tuple[str, ...]] = ("topics", "submissions")

    def run(self) -> list[nodes.Node]:
        part = self.arguments[0]
        if part not in self.parts:
            raise self.error(f"codeml-cfp: expected one of {', '.join(self.parts)}, got {part!r}")
        site = self.site()
        return render_cfp_topics(site) if part == "topics" else render_cfp_submissions(site)


class ScheduleDirective(_DataDirective):
    def run(self) -> list[nodes.Node]:
        from sphinx.util.osutil import relative_uri

        from codeml_repro.sphinx.workshop.calendar import ics_name

        table_nodes = render_schedule(self.site(), self.env.docname, self.edition)
        if self.edition is not None:
            return table_nodes  # the calendar export is the current edition's
        here = self.env.app.builder.get_target_uri(self.env.docname)
        name = ics_name(self.site())
        return [*table_nodes, render_calendar_note(relative_uri(here, name), name)]


class SpeakersDirective(_DataDirective):
    def run(self) -> list[nodes.Node]:
        site = self.site()
        visible = site.visible_speakers()
        if not visible:
            return render_coming_soon(site)
        cards: list[nodes.Node] = []
        for speaker in visible:
            card = render_speaker(speaker, self.edition)
            self.state.document.note_explicit_target(card, card)
            cards.append(card)
        return cards


class OrganizersDirective(_DataDirective):
    def run(self) -> list[nodes.Node]:
        return render_organizers(self.site())


class NewsDirective(_DataDirective):
    option_spec: ClassVar[dict[str, Any]] = {**_DataDirective.option_spec, "limit": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        return render_news(self.site(), self.options.get("limit"))


# -- events ------------------------------------------------------------------------


def _check_data(app: Any) -> None:
    """Fail fast, before any page is read, with the one-line data error.

    A book without ``workshop.yml`` (the poster pages alone, in any Jupyter Book) is not checked: only a
    page that uses a workshop directive needs the data, and it names the missing file."""
    data_dir, _ = data_paths(app.config, app.srcdir)
    if (data_dir / "workshop.yml").is_file():
        site_data(app.config, app.srcdir)


def _resync_script_assets(app: Any, env: Any, docnames: list[str]) -> None:
    """Undo Sphinx < 8.2's duplicate inline scripts (sphinx-doc/sphinx#13402).

    sphinx-thebe adds its inline config script (``const THEBE_JS_URL = ...``)
    with ``app.add_js_file(None, body=...)`` in ``env-before-read-docs``, after
    the HTML builder was initialised: the builder stores it with filename
    ``None``. Before writing, Sphinx re-adds every registered script with
    ``None`` turned into ``''``; the two entries differ, so the page gets the
    ``const`` twice and the browser throws "Identifier 'THEBE_JS_URL' has
    already been declared". Rebuilding the builder's list from the registry
    here (after sphinx-thebe's handler) stores the script the normalised way,
    so the later re-add finds it and nothing is duplicated.
    """
    import sphinx

    init_js_files = getattr(app.builder, "init_js_files", None)
    if sphinx.version_info[:2] < (8, 2) and callable(init_js_files):
        init_js_files()


def _default_theme_mode(app: Any, config: Any) -> None:
    """Give pydata-sphinx-theme its documented ``html_context["default_mode"]``.

    Left unset, the theme's inline head script sets ``data-mode=""`` for a
    visitor with an empty localStorage, and its JavaScript then logs the
    console error "Got invalid theme mode: . Resetting to auto." on the first
    visit. ``auto`` is the mode the theme falls back to anyway.
    """
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _write_calendar(app: Any, exception: BaseException | None) -> None:
    """Write the ``.ics`` beside the HTML once the build succeeded."""
    if exception is not None or app.builder.format != "html":
        return
    from codeml_repro.sphinx.workshop.calendar import calendar, data_stamp, ics_name

    data_dir = Path(app.srcdir, app.config.codeml_data_dir)
    if not (data_dir / "workshop.yml").is_file():
        return  # a book with the poster pages only: no workshop data, no calendar
    site = site_data(app.config, app.srcdir)
    text = calendar(site, stamp=data_stamp(data_dir))
    Path(app.outdir, ics_name(site)).write_text(text, encoding="utf-8", newline="")


def setup_site(app: Any) -> None:
    """Register the site directives, config values, stylesheet and event hooks."""
    app.add_config_value("codeml_data_dir", "book/_data", "env", [str])
    app.add_config_value("codeml_root", ".", "env", [str])
    for name, directive in (
        ("codeml-workshop", WorkshopDirective),
        ("codeml-dates", DatesDirective),
        ("codeml-cfp", CfpDirective),
        ("codeml-schedule", ScheduleDirective),
        ("codeml-speakers", SpeakersDirective),
        ("codeml-organizers", OrganizersDirective),
        ("codeml-news", NewsDirective),
    ):
        app.add_directive(name, directive)
    app.add_css_file("codeml-site.css")
    app.add_js_file("codeml-countdown.js", loading_method="defer")  # only where a countdown is (pagepolicy)
    app.connect("config-inited", _default_theme_mode)
    app.connect("builder-inited", _check_data)
    app.connect("env-before-read-docs", _resync_script_assets, priority=900)
    app.connect("build-finished", _write_calendar)
