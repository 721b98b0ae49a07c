"""Credit: BibTeX and CITATION.cff (parsed back; CFF validated against the CFF 1.2 schema),
the register's columns, and the Binder/Colab launch links.

``tests/data/cff-1.2.0.schema.json`` is the Citation File Format 1.2.0 JSON Schema
(CC-BY-4.0), as shipped in the ``cffconvert`` 2.0.0 wheel on PyPI; cffconvert
itself pins click 7 and jsonschema 3, which would break this environment.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pybtex.database import parse_string

from codeml_repro.model.result import Result, Status
from codeml_repro.model.submission import SubmissionSpec
from codeml_repro.model.workshopname import WorkshopNames
from codeml_repro.sphinx.posters.citation import Workshop, bibtex, citation_cff, read_workshop
from codeml_repro.sphinx.posters.entries import Entry
from codeml_repro.sphinx.posters.launch import launch_links, parse_github
from codeml_repro.sphinx.posters.register import COLUMNS, register_csv, register_json, row

CFF_SCHEMA = json.loads((Path(__file__).parent / "data" / "cff-1.2.0.schema.json").read_text())
REPO = Path(__file__).resolve().parents[1]
WORKSHOP = Workshop(WorkshopNames(name="CODEML", short_name="CODEML", venue="ICML"), 2025)
URL = "https://codeml.example.org/book/posters/paper.html"


def spec(**extra: object) -> SubmissionSpec:
    data = {
        "title": "Fast {and} Honest Baselines: 100% & more",
        "authors": [
            {"name": "Ada Lovelace", "affiliation": "Engine Lab", "url": "https://example.org/ada"},
            {"name": "Plato"},
        ],
        "abstract": "We show things.",
        "links": {"code": "https://github.com/example/fast", "doi": "https://doi.org/10.5281/zenodo.1234567"},
        **extra,
    }
    return SubmissionSpec.model_validate(data)


def test_bibtex_parses_back_with_every_field() -> None:
    text = bibtex(spec(), "paper", WORKSHOP, URL)
    (key, entry), = parse_string(text, "bibtex").entries.items()
    assert key == "codeml2025-paper" and entry.type == "inproceedings"
    assert [str(p) for p in entry.persons["author"]] == ["Lovelace, Ada", "Plato"]
    assert entry.fields["booktitle"] == "CODEML Workshop at ICML 2025"
    assert entry.fields["year"] == "2025"
    assert entry.fields["url"] == URL
    assert entry.fields["doi"] == "10.5281/zenodo.1234567"
    assert "100\\% \\& more" in entry.fields["title"]


def test_bibtex_of_hostile_text_stays_one_entry() -> None:
    hostile = spec(title="x}, author = {Mallory} } @misc{evil, title={", authors=[{"name": "A {B"}])
    text = bibtex(hostile, "paper", WORKSHOP, None)
    parsed = parse_string(text, "bibtex").entries
    assert list(parsed) == ["codeml2025-paper"]
    entry = parsed["codeml2025-paper"]
    assert "Mallory" in entry.fields["title"] and "url" not in entry.fields
    assert [str(p) for p in entry.persons["author"]] == ["B, A"]


def test_citation_cff_is_valid_cff_1_2() -> None:
    swh = "swh:1:dir:" + "a" * 40 + ";origin=x"
    text = citation_cff(spec(links={"code": "https://github.com/e/f", "swh": swh}), WORKSHOP, URL)
    data = yaml.safe_load(text)
    jsonschema.validate(data, CFF_SCHEMA)
    assert data["cff-version"] == "1.2.0"
    assert data["authors"][0] == {"given-names": "Ada", "family-names": "Lovelace",
                                  "affiliation": "Engine Lab", "website": "https://example.org/ada"}
    assert data["authors"][1] == {"name": "Plato"}
    assert data["identifiers"] == [{"type": "swh", "value": "swh:1:dir:" + "a" * 40}]
    assert data["preferred-citation"]["conference"]["name"] == "CODEML Workshop at ICML 2025"
    with_doi = yaml.safe_load(citation_cff(spec(), WORKSHOP, None))
    jsonschema.validate(with_doi, CFF_SCHEMA)
    assert with_doi["doi"] == with_doi["preferred-citation"]["doi"] == "10.5281/zenodo.1234567"
    assert "url" not in with_doi


def test_cff_keeps_hostile_text_as_strings() -> None:
    text = citation_cff(spec(title="!!python/object:os.system ls", abstract="key: value\n- item"),
                        WORKSHOP, None)
    data = yaml.safe_load(text)
    jsonschema.validate(data, CFF_SCHEMA)
    assert data["title"] == "!!python/object:os.system ls"


def test_workshop_comes_from_the_books_data() -> None:
    assert read_workshop(REPO / "book" / "_data", 1999).names.short == "CODEML"
    assert read_workshop(Path("/nonexistent"), 1999) == Workshop(WorkshopNames(), 1999)


def test_another_workshops_names_in_key_booktitle_and_file(tmp_path: Path) -> None:
    """No name in the code: a workshop whose name holds "Workshop" gets it once, keys from its short name."""
    (tmp_path / "workshop.yml").write_text(
        "name: Workshop on Reproducible ML\nshort_name: ReproML\nvenue: NeurIPS\nyear: 2027\n",
        encoding="utf-8",
    )
    other = read_workshop(tmp_path, 1999)
    (key, entry), = parse_string(bibtex(spec(), "paper", other, None), "bibtex").entries.items()
    assert key == "reproml2027-paper"
    assert entry.fields["booktitle"] == "Workshop on Reproducible ML at NeurIPS 2027"
    assert other.names.slug == "reproml" and other.names.label == "ReproML artifact"
    assert other.for_year(2026).booktitle == "Workshop on Reproducible ML at NeurIPS 2026"
    assert WorkshopNames(name="Two Words", short_name="Two Words!").slug == "two-words"
    assert WorkshopNames().booktitle(2030) == "Workshop 2030" and WorkshopNames().label == "artifact"


@pytest.mark.parametrize(("url", "labels"), [
    ("https://github.com/example/fast", ["Open in Binder"]),
    ("https://github.com/example/fast.git", ["Open in Binder"]),
    ("https://github.com/example/fast/blob/main/nb/artifact.ipynb", ["Open in Binder", "Open in Colab"]),
    ("https://gitlab.com/example/fast", []),
    ("https://example.org/code", []),
    ("https://github.com/example", []),
    (None, []),
])
def test_launch_links_only_when_they_can_work(url: str | None, labels: list[str]) -> None:
    assert [label for label, _ in launch_links(url)] == labels


def test_launch_urls() -> None:
    links = dict(launch_links("https://github.com/example/fast/blob/v1.0/nb/my%20artifact.ipynb"))
    binder = "https://mybinder.org/v2/gh/example/fast/v1.0?labpath=nb%2Fmy%20artifact.ipynb"
    assert links["Open in Binder"] == binder
    colab = "https://colab.research.google.com/github/example/fast/blob/v1.0/nb/my%20artifact.ipynb"
    assert links["Open in Colab"] == colab
    assert dict(launch_links("https://github.com/a/b"))["Open in Binder"] == "https://mybinder.org/v2/gh/a/b/HEAD"
    assert parse_github("https://github.com/a/b/tree/dev") is not None


def test_register_rows_have_the_documented_columns() -> None:
    result = Result(slug="paper", status=Status.REPRODUCED, finished_at="2025-07-01T10:00:00Z")
    entry = Entry("paper", spec(title="=HYPERLINK(\"x\")"), Status.REPRODUCED, result)
    rows = [row(entry, "book/posters/paper.html")]
    data = json.loads(register_json(rows))
    assert tuple(data[0]) == COLUMNS
    assert data[0]["archival_id"] == "10.5281/zenodo.1234567"
    assert data[0]["tiers"] == ["available", "functional", "reproduced"]
    assert data[0]["last_run"] == "2025-07-01T10:00:00Z"
    table = list(csv.DictReader(io.StringIO(register_csv(rows))))
    assert tuple(table[0]) == COLUMNS
    assert table[0]["authors"] == "Ada Lovelace; Plato"
    assert table[0]["title"].startswith("'=")  # never a spreadsheet formula
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| `{column}` |" in readme, f"register column {column} is not documented in the README"
