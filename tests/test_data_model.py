"""artifact.data entries: each bad one is one line naming the file and the field; the skip key sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import load_submission
from codeml_repro.run.plan.planning import plan

from .conftest import MakeSubmission

H = "a" * 64
U = "https://x.org/a.csv"
REV = "0123456789abcdef0123456789abcdef01234567"


def _problem(folder: Path, data: list[object]) -> str:
    spec = {"title": "T", "authors": [{"name": "A"}], "artifact": {"data": data}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SubmissionInvalid) as info:
        load_submission(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder / "submission.yml") in message
    return message


@pytest.mark.parametrize(("entry", "needle"), [
    ({"url": U, "path": "data/a.csv"}, "artifact.data[0]: sha256: missing"),
    ({"url": U, "sha256": "abc", "path": "a.csv"}, "artifact.data[0].sha256: must be 64 hex"),
    ({"url": U, "sha256": H, "path": "../a.csv"}, "artifact.data[0].path: must be a relative"),
    ({"url": U, "sha256": H, "path": "/etc/a"}, "artifact.data[0].path: must be a relative"),
    ({"url": U, "sha256": H, "path": "a.csv", "sha": H},
     "artifact.data[0].sha: unknown key; did you mean 'sha256'?"),
    ({"url": "ftp://x.org/a.csv", "sha256": H, "path": "a.csv"}, "artifact.data[0].url: must be an http"),
    ({"hf": {"repo": "org/m", "revision": "main"}}, "artifact.data[0].hf.revision: 'main' is not a 40-hex"),
    ({"hf": {"repo": "org/m", "revision": REV}, "path": "x"}, "path: not used with hf"),
    ({"doi": "10.5281/zenodo.1", "sha256": H, "path": "a"}, "doi and file go together"),
    ({"url": "https://x.org/a", "hf": {"repo": "o/m", "revision": REV}}, "give one source"),
    ({"sha256": H, "path": "a.csv", "unpack": "zip"}, "unpack: only for a downloaded archive"),
])
def test_bad_entry_is_one_line(
    make_submission: MakeSubmission, entry: dict[str, object], needle: str
) -> None:
    folder = make_submission("p", "x = 1")
    assert needle in _problem(folder, [entry])


def test_overlapping_paths(make_submission: MakeSubmission) -> None:
    folder = make_submission("p", "x = 1")
    data = [{"url": "https://x.org/a", "sha256": H, "path": "data"},
            {"url": "https://x.org/b", "sha256": H, "path": "data/b.csv"}]
    assert "overlap" in _problem(folder, data)


def test_good_forms_load(make_submission: MakeSubmission) -> None:
    data = [
        {"url": "https://x.org/a.zip", "sha256": "SHA256:" + H.upper(), "path": "data/a", "unpack": "zip",
         "size": 10, "license": "CC-BY-4.0"},
        {"doi": "doi:10.5281/zenodo.3939050", "file": "tiny-data.txt", "sha256": H, "path": "tiny.txt"},
        {"hf": {"repo": "org/model", "revision": REV.upper(), "files": ["*.json"]}},
    ]
    folder = make_submission("p", "x = 1", spec={"artifact": {"data": data}})
    entries = load_submission(folder).spec.artifact.data
    assert entries[0].sha256 == H and entries[1].doi == "10.5281/zenodo.3939050"
    assert entries[2].hf is not None and entries[2].hf.revision == REV
    assert entries[1].location == "https://doi.org/10.5281/zenodo.3939050"


def test_missing_shipped_file_is_invalid(make_submission: MakeSubmission) -> None:
    folder = make_submission("p", "x = 1", spec={"artifact": {"data": [{"path": "data/x.csv", "sha256": H}]}})
    planned = plan(folder, RunPolicy())
    assert planned.problem is not None and "artifact.data[0].path: data/x.csv is not in" in planned.problem


def test_skip_key_follows_each_input(make_submission: MakeSubmission) -> None:
    entry = {"url": U, "sha256": H, "path": "a.csv"}
    folder = make_submission("p", "x = 1", spec={"artifact": {"data": [entry]}})
    before = plan(folder, RunPolicy()).key
    spec = yaml.safe_load((folder / "submission.yml").read_text())
    spec["artifact"]["data"][0]["sha256"] = "b" * 64
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    assert plan(folder, RunPolicy()).key != before
    spec["artifact"]["data"][0] = {"hf": {"repo": "o/m", "revision": REV}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    hf_key = plan(folder, RunPolicy()).key
    spec["artifact"]["data"][0]["hf"]["revision"] = "f" * 40
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    assert plan(folder, RunPolicy()).key != hf_key


def test_guide_data_examples_are_valid() -> None:
    from markdown_it import MarkdownIt

    from codeml_repro.model.submission import SubmissionSpec
    from tests.conftest import REPO

    tokens = MarkdownIt().parse((REPO / "book" / "authors.md").read_text(encoding="utf-8"))
    examples = [t.content for t in tokens if t.type == "fence" and t.info.strip() == "{code-block} yaml"]
    sources = set()
    for text in examples:
        head = {"title": "T", "authors": [{"name": "A"}]}
        spec = SubmissionSpec.model_validate({**head, **yaml.safe_load(text)})
        sources.update(entry.source for entry in spec.artifact.data)
    assert sources >= {"url", "doi", "hf"}


def test_data_failures_in_words_on_the_page() -> None:
    from codeml_repro.model.result import ErrorInfo, Result, Status
    from codeml_repro.sphinx.html import tag
    from codeml_repro.sphinx.posters.inputs import size_text
    from codeml_repro.sphinx.posters.runview import _error

    result = Result(slug="s", status=Status.FAILED, error=ErrorInfo(type="DataMismatch", message="x"))
    html = str(tag("dd", None, _error(result)))
    assert "other bytes than its declared sha256, so no cell ran" in html
    assert "<code>DataMismatch</code>" in html
    assert [size_text(n) for n in (None, 999, 1_500_000, 5 * 10**9)] == ["—", "999 B", "1.5 MB", "5.0 GB"]
