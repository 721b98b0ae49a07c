"""``codeml-repro init DIR``: a new workshop's complete site, from the templates in ``site_template/``.

The templates ship in the package (package data) and are the one copy: this
repository's own generic pages (``book/*.md`` but the home page) are links to
them, so CODEML is what ``init`` writes plus CODEML's data. ``init`` asks
nothing: every value has a placeholder an organizer edits later in
``book/_data/workshop.yml``. Values are written as JSON strings into YAML (any
text stays a string) and with Markdown's characters escaped into Markdown.
The site it writes builds with ``jupyter-book build . -W`` as it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from codeml_repro import __version__
from codeml_repro.authoring.scaffold import new_submission
from codeml_repro.model.errors import InputError
from codeml_repro.model.schema import SCHEMA_FILE, schema_text
from codeml_repro.model.submission import SUBMISSION_FILE
from codeml_repro.model.workshopname import WorkshopNames, slugify

TEMPLATE = "site_template"
TOOLKIT_REPO = "codeml-workshop/codeml"
"""Where the reusable workflows live; a new site's workflows call them at the release tag."""
EXAMPLE_SLUG = "example-demo"
EXAMPLE_HEAD = (
    'title: "Estimating pi (an example artifact)"\n'
    "# An example, not an accepted paper: labelled so on the site, left out of the counts,\n"
    "# the register and the .bib. Delete this folder once real submissions arrive.\n"
    "example: true\n"
)
# Template path (relative to site_template/) -> path in the new site.
RENAMES = {
    "gitignore": ".gitignore", "workflows": ".github/workflows", "zizmor.yml": ".github/zizmor.yml",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
_TOKEN = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass(frozen=True)
class SiteValues:
    """What ``init`` fills in; ``--name`` and friends, or their placeholders."""

    name: str
    short_name: str
    year: int
    venue: str
    url: str

    def tokens(self, folder: str) -> dict[str, str]:
        names = WorkshopNames(self.name, self.short_name, "", self.venue, self.year)
        plain = {
            "name": self.name, "short_name": self.short_name, "venue": self.venue, "url": self.url,
            "badge_label": names.label, "organizers": f"The {self.short_name} organizers",
            "dir": folder,
        }
        out = {f"{key}_yaml": json.dumps(value, ensure_ascii=False) for key, value in plain.items()}
        out |= {f"{key}_md": _MARKDOWN_SPECIAL.sub(r"\\\1", value) for key, value in plain.items()}
        out |= {
            "short_name": _MARKDOWN_SPECIAL.sub(r"\\\1", self.short_name), "year": str(self.year),
            "slug": names.slug.replace("-", ""), "workflows": f"{TOOLKIT_REPO}/.github/workflows",
            "toolkit_ref": f"v{__version__}", "toolkit_owner": TOOLKIT_REPO.split("/")[0],
            "toolkit_yaml": json.dumps(f"codeml-repro[examples]=={__version__}"),
            "site_toolkit_yaml": json.dumps(f"codeml-repro[site]=={__version__}"),
        }
        return out


def site_values(name: str | None, short_name: str | None, year: int | None, venue: str | None,
                url: str | None, this_year: int) -> SiteValues:
    """The options given, placeholders for the rest; a short name is made from the name's initials."""
    for label, text in (("--name", name), ("--short-name", short_name), ("--venue", venue)):
        if text is not None and (not text.strip() or any(ord(c) < 32 for c in text)):
            raise InputError(f"{label}: expected one line of text, got {text!r}")
    if url is not None and not re.match(r"^https?://\S+$", url):
        raise InputError(f"--url: expected an http(s) URL, got {url!r}")
    if year is not None and not 2000 <= year <= 2100:
        raise InputError(f"--year: expected a year between 2000 and 2100, got {year}")
    name = " ".join((name or "Workshop on Executable Papers").split())
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z0-9]+", name) if word[0].isupper())
    short = " ".join((short_name or initials or "Workshop").split())
    if not slugify(short):
        raise InputError(f"--short-name: needs a letter or digit (cite keys and file names), got {short!r}")
    return SiteValues(name, short, year or this_year, " ".join((venue or "the host conference").split()),
                      url or "https://example.org/")


def _render(text: str, tokens: dict[str, str], shown: str) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(1) not in tokens:
            raise KeyError(f"{shown}: unknown template token {match.group(0)}")
        return tokens[match.group(1)]

    return _TOKEN.sub(value, text)


def _template_files() -> list[tuple[str, str]]:
    """Every template file as (relative path, text), from the installed package."""
    root = resources.files("codeml_repro.organizers").joinpath(TEMPLATE)
    out: list[tuple[str, str]] = []
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                stack.append((child, rel + "/"))
            elif child.name != "__pycache__":
                out.append((rel, child.read_text(encoding="utf-8")))
    return sorted(out)


def _target(rel: str) -> str:
    for old, new in RENAMES.items():
        if rel == old or rel.startswith(old + "/"):
            return new + rel[len(old):]
    return rel


def rendered_site(values: SiteValues, folder_name: str) -> dict[str, str]:
    """The new site's files (path -> text), templates filled in; the example submission aside."""
    tokens = values.tokens(folder_name)
    files = {_target(rel): _render(text, tokens, rel) for rel, text in _template_files()}
    files[SCHEMA_FILE] = schema_text()
    return files


def _example(root: Path, values: SiteValues) -> None:
    """The scaffold's submission, marked ``example: true`` and with a title of its own."""
    folder = new_submission(root, EXAMPLE_SLUG)
    spec = folder / SUBMISSION_FILE
    text = spec.read_text(encoding="utf-8")
    text = text.replace('title: "The title of your paper"\n', EXAMPLE_HEAD, 1)
    text = text.replace('  - name: "First Author"\n    affiliation: "University or company"\n',
                        f"  - name: {json.dumps(f'The {values.short_name} organizers')}\n", 1)
    text = text.replace("  Replace this with the abstract of your paper.\n",
                        "  A Monte Carlo estimate of pi, recorded and checked against the claimed 3.14.\n", 1)
    if yaml.safe_load(text).get("example") is not True:
        raise RuntimeError("the scaffold's template changed: init could not mark the example")
    spec.write_text(text, encoding="utf-8")


def init_site(folder: Path, values: SiteValues) -> list[Path]:
    """Write the site into ``folder`` (new or empty); return the files written.

    Raises :class:`InputError` when ``folder`` holds anything already: nothing an organizer wrote is
    overwritten.
    """
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder}: exists and is not an empty folder; pick a new one")
    files = rendered_site(values, folder.name)
    written = []
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (folder / "book" / "_static").mkdir(parents=True, exist_ok=True)
    (folder / "book" / "_static" / ".gitkeep").write_text("", encoding="utf-8")
    _example(folder, values)
    return written
