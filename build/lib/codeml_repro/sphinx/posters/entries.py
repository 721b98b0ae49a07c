"""What the book knows of each submission: its spec, last result and history (an ``Entry``).

Every poster component (listing, pages, dashboard) reads submissions through
:func:`load_entries`, so a stale or unreadable result is judged the same way
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sphinx.util import logging
from sphinx.util.osutil import relative_uri

from codeml_repro.model.logsafe import log_line
from codeml_repro.model.resources import short_need
from codeml_repro.model.result import Result, RunRecord, Status
from codeml_repro.model.submission import Submission, SubmissionSpec
from codeml_repro.results.badges import earned_tiers, message, review_current

logger = logging.getLogger(__name__)

ENV_KEY = "codeml_listing_docs"
LEFT_OUT = "submission left out of the book: "
"""How a problem note about a folder that could not be loaded starts: the dashboard counts
those folders as ``invalid`` (a name that is not a slug, a submission.yml the loader refuses)."""
APP_KEY = "codeml_entries"
"""The Sphinx app's attribute holding the submissions one build read (see :func:`build_entries`)."""


@dataclass(frozen=True)
class Entry:
    """One submission as the book shows it: its spec, last result and history."""

    slug: str
    spec: SubmissionSpec
    status: Status
    result: Result | None = None
    history: list[RunRecord] = field(default_factory=list)
    stale: bool = False
    notebook: Path | None = None
    edition: int | None = None  # the year of a past edition; None for the current one
    inputs: str | None = None

    @property
    def tiers(self) -> list[str]:
        return earned_tiers(self.status, self.spec, self.inputs)

    @property
    def top_tier(self) -> str:
        return self.tiers[-1] if self.tiers else "none"

    @property
    def review_stale(self) -> bool:
        """A review exists but is of another version of the artifact."""
        return self.spec.review is not None and not review_current(self.spec.review, self.inputs)

    @property
    def regressed(self) -> bool:
        """The last run did not reproduce, and an earlier one did (a run skipped here never counts)."""
        if self.result is None or self.stale or self.result.status in (Status.REPRODUCED, Status.SKIPPED):
            return False
        return any(r.status is Status.REPRODUCED for r in self.history[:-1])

    @property
    def status_label(self) -> str:
        """The status in words; a skipped run says what it needs: 'not checked here: needs a GPU'."""
        if self.status is Status.SKIPPED:
            reason = self.result.skip_reason if self.result is not None else None
            return f"not checked here: {short_need(reason)}" if reason else "not checked here"
        return message(self.status)

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.spec.title.casefold(), self.slug)


def codeml_root(app: Any) -> Path:
    """``codeml_root`` from the config, relative to the book's source directory."""
    return (Path(app.srcdir) / str(app.config.codeml_root)).resolve()


def _current_inputs(sub: Submission) -> str | None:
    from codeml_repro.model.skipkey import submission_inputs

    try:
        return submission_inputs(sub.folder, sub)
    except OSError:
        return None


def _entry(sub: Submission, store: Any) -> Entry:
    from codeml_repro.model.editions import edition_of

    result: Result | None = store.read(sub.slug)
    history: list[RunRecord] = store.history(sub.slug)
    edition = edition_of(sub.folder)
    inputs = _current_inputs(sub)
    if result is None:
        return Entry(sub.slug, sub.spec, Status.PENDING, None, history, edition=edition, inputs=inputs)
    recorded = getattr(result, "inputs_key", None)
    stale = bool(recorded) and recorded != inputs
    status = Status.PENDING if stale else result.status
    notebook = store.notebook_path(sub.slug)
    shown = notebook if result.notebook and notebook.is_file() else None  # not an older run's
    return Entry(sub.slug, sub.spec, status, result, history, stale, shown, edition, inputs)


@dataclass(frozen=True)
class _Folder:
    """One submission folder as the book read it: its entry, or why it was left out."""

    edition: int | None
    entry: Entry | None
    left_out: str | None = None  # the submission could not be loaded
    store_problems: tuple[str, ...] = ()  # its result or history could not be read in full


def _read_folders(root: Path) -> list[_Folder]:
    """Every submission of every edition, read once: specs, results, histories, inputs keys."""
    from codeml_repro.model.editions import edition_of
    from codeml_repro.model.errors import ReproError
    from codeml_repro.model.shownpaths import from_root
    from codeml_repro.model.submission import discover, load_submission
    from codeml_repro.results.store import ResultStore

    store = ResultStore(root)
    folders = []
    for folder in discover(root):
        edition = edition_of(folder)
        try:
            sub = load_submission(folder)
        except ReproError as exc:
            shown = from_root(exc.message, root)  # the dashboard is published: no host paths
            why = f"{LEFT_OUT}{log_line(shown)}"
            folders.append(_Folder(edition, None, why))
            continue
        known = len(store.problems)
        entry = _entry(sub, store)
        folders.append(_Folder(edition, entry, None, tuple(log_line(p) for p in store.problems[known:])))
    return folders


def _select(
    folders: list[_Folder], edition: int | None, every_edition: bool
) -> tuple[list[Entry], list[str]]:
    """The entries of one edition (or of all), sorted by title, and their problems."""
    chosen = [f for f in folders if every_edition or f.edition == edition]
    entries = [f.entry for f in chosen if f.entry is not None]
    problems = [f.left_out for f in chosen if f.left_out is not None]
    problems += [p for f in chosen for p in f.store_problems]
    return sorted(entries, key=lambda e: e.sort_key), problems


def read_entries(
    root: Path, edition: int | None = None, every_edition: bool = False
) -> tuple[list[Entry], list[str]]:
    """The valid submissions of one edition (None: the current one) or of ``every_edition``,
    with their results, sorted by title, and what could not be read.

    An invalid submission or an unreadable result or history line is left out and described;
    the book still builds (see :func:`load_entries`).
    """
    return _select(_read_folders(root), edition, every_edition)


def load_entries(
    root: Path, warn: bool = True, edition: int | None = None, every_edition: bool = False
) -> list[Entry]:
    """:func:`read_entries`, its problems logged if ``warn``: as information, since one bad
    submission on ``main`` must not stop the book (``-W``) from deploying for the others."""
    entries, problems = read_entries(root, edition, every_edition)
    _log(problems, warn)
    return entries


def _log(problems: list[str], warn: bool) -> None:
    for problem in problems if warn else []:
        logger.info("codeml: %s", problem)


def build_entries(
    app: Any, edition: int | None = None, every_edition: bool = False
) -> tuple[list[Entry], list[str]]:
    """:func:`read_entries` of the book's root, read once per build and kept on the Sphinx app.

    The listings, the dashboard, the chart over time and the generated pages all show the
    same submissions; reading them (and hashing their inputs) once serves every one. A new
    build is a new app, so it reads afresh; a parallel read's worker reads once for itself.
    """
    root = codeml_root(app)
    cache: dict[Path, list[_Folder]] = getattr(app, APP_KEY, None) or {}
    if root not in cache:
        cache[root] = _read_folders(root)
        setattr(app, APP_KEY, cache)
    return _select(cache[root], edition, every_edition)


def load_build_entries(
    app: Any, warn: bool = True, edition: int | None = None, every_edition: bool = False
) -> list[Entry]:
    """:func:`build_entries`, its problems logged if ``warn`` (as :func:`load_entries` does)."""
    entries, problems = build_entries(app, edition, every_edition)
    _log(problems, warn)
    return entries


def page_name(app: Any, slug: str) -> str:
    """The page name of a submission's generated page, under the listing page.

    The same for every edition, so a poster keeps its URL when its edition is closed.
    """
    return f"{app.config.codeml_posters_page}/{slug}"


def listing_doc(app: Any, edition: int | None) -> str:
    """The poster listing of an edition (the page written by ``codeml-repro edition close``)."""
    if edition is None:
        return str(app.config.codeml_posters_page)
    from codeml_repro.model.editions import EDITIONS_DIR

    return f"{EDITIONS_DIR}/{edition}/posters"


def uri_from(app: Any, docname: str, target: str) -> str:
    """Relative URL from a document to a generated page name or an output file."""
    builder = app.builder
    source = builder.get_target_uri(docname)
    is_file = "." in target.rsplit("/", 1)[-1]
    dest = target if is_file else builder.get_target_uri(target)
    return relative_uri(source, dest)


def note_listing_doc(env: Any, docname: str) -> None:
    """Remember documents that show results: they are re-read on every build."""
    docs: set[str] = getattr(env, ENV_KEY, set())
    docs.add(docname)
    setattr(env, ENV_KEY, docs)
