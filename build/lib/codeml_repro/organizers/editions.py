"""``codeml-repro edition close YEAR``: keep last year's workshop alive under ``editions/YEAR/``.

Closing an edition copies the site data (``book/_data/``) to
``editions/YEAR/_data/`` (the copy left in ``book/_data/`` is where the next
edition starts), moves the accepted submissions to
``editions/YEAR/submissions/``, writes the edition's pages (home, schedule,
speakers, posters) and lists them in ``_toc.yml`` under "Past editions",
newest first. Results are not touched: they are keyed by slug, so each
paper's history goes on, the scheduled runs keep running its artifact, and
its poster page keeps its URL (``book/posters/<slug>.html``).

The toolkit's own examples (``example: true``) stay with the current edition.
Everything is prepared first; a problem (the edition exists, ``_toc.yml``
unreadable) stops the command before anything moves.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelYAMLError

from codeml_repro.model.editions import CURRENT_DATA_DIR, EDITIONS_DIR, YEAR_RE, edition_dir
from codeml_repro.model.errors import InputError, ReproError
from codeml_repro.model.safeyaml import load_bounded
from codeml_repro.model.submission import SUBMISSION_FILE
from codeml_repro.model.workshopname import names_from
from codeml_repro.results.store import atomic_write

TOC_FILE = "_toc.yml"
PAST_CAPTION = "Past editions"
PAGES = {  # file -> (title template, directive); the home page has its own text
    "schedule": ("Schedule", "codeml-schedule"),
    "speakers": ("Invited Speakers", "codeml-speakers"),
    "posters": ("Posters", "codeml-posters"),
}


@dataclass(frozen=True)
class ClosedEdition:
    year: int
    folder: Path
    moved: tuple[str, ...]
    kept: tuple[str, ...]  # examples that stay with the current edition


def _directive(name: str, year: int) -> str:
    return f"```{{{name}}}\n:edition: {year}\n```\n"


def edition_pages(name: str, year: int) -> dict[str, str]:
    """The MyST pages of a past edition, by file stem; the data comes through directives."""
    home = (
        f"# {name} {year}\n\n"
        f"The {year} edition of the workshop: its [schedule](schedule.md), "
        f"[invited speakers](speakers.md) and [posters](posters.md), whose artifacts are still "
        "run on schedule, so their badges say whether they reproduce today.\n\n"
        + _directive("codeml-workshop", year)
        + "\n## Important Dates\n\n"
        + _directive("codeml-dates", year)
    )
    pages = {"index": home}
    for stem, (title, directive) in PAGES.items():
        pages[stem] = f"# {title} ({name} {year})\n\n" + _directive(directive, year)
    return pages


def _is_example(folder: Path) -> bool:
    try:
        raw = load_bounded(folder / SUBMISSION_FILE)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(raw, dict) and raw.get("example") is True


def _workshop_name(data: Path) -> str:
    return names_from(data / "workshop.yml").short or "The workshop"


def toc_with_edition(text: str, path: Path, year: int) -> str:
    """``_toc.yml`` with the edition first in its "Past editions" part (comments kept)."""
    rt = YAML(typ="rt")
    rt.indent(mapping=2, sequence=4, offset=2)
    try:
        toc = rt.load(text)
    except RuamelYAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    parts = toc.get("parts") if isinstance(toc, CommentedMap) else None
    if not isinstance(parts, CommentedSeq):
        raise InputError(f"{path}: parts: expected a list of parts (format: jb-book)")
    past = next((p for p in parts if isinstance(p, CommentedMap) and p.get("caption") == PAST_CAPTION), None)
    if past is None:
        past = CommentedMap(caption=PAST_CAPTION)
        parts.append(past)
    if not isinstance(past.get("chapters"), CommentedSeq):
        past["chapters"] = CommentedSeq()
    base = f"{EDITIONS_DIR}/{year}"
    chapter = CommentedMap(file=f"{base}/index")
    chapter["sections"] = CommentedSeq(CommentedMap(file=f"{base}/{stem}") for stem in PAGES)
    past["chapters"].insert(0, chapter)
    out = io.StringIO()
    rt.dump(toc, out)
    return out.getvalue()


def close_edition(root: Path, year: int) -> ClosedEdition:
    """Move the current edition to ``editions/YEAR`` (see the module docstring)."""
    if not YEAR_RE.match(str(year)):
        raise InputError(f"edition close: YEAR: {year} is not a year such as 2025")
    target = edition_dir(root, year)
    data = root / CURRENT_DATA_DIR
    toc_path = root / TOC_FILE
    if target.exists():
        raise ReproError(f"{target}: edition {year} is already closed")
    if not data.is_dir() or not toc_path.is_file():
        raise ReproError(f"{root}: needs {CURRENT_DATA_DIR}/ and {TOC_FILE}; pass --root with the project")
    toc_text = toc_with_edition(toc_path.read_text(encoding="utf-8"), toc_path, year)
    base = root / "submissions"
    folders = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if base.is_dir() else []
    kept = [f.name for f in folders if _is_example(f)]
    moving = [f for f in folders if f.name not in kept]

    staging = target.with_name(f".{year}.closing")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(data, staging / "_data")
    (staging / "submissions").mkdir()
    for stem, text in edition_pages(_workshop_name(data), year).items():
        (staging / f"{stem}.md").write_text(text, encoding="utf-8")
    staging.rename(target)
    for folder in moving:
        folder.rename(target / "submissions" / folder.name)
    atomic_write(toc_path, toc_text.encode("utf-8"))
    return ClosedEdition(year, target, tuple(f.name for f in moving), tuple(kept))
