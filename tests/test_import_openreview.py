"""`codeml-repro import openreview`: accepted papers from a saved export into submissions/.

The exports in tests/openreview/ are small and synthetic, in both of
OpenReview's shapes: API v2 (content fields wrapped as {"value": ...}) with a
unicode title, two papers with the same title and a withdrawn one; API v1
(plain values) with a rejected one.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner, Result

from codeml_repro.cli import cli
from codeml_repro.model.submission import load_spec
from codeml_repro.organizers.importer import slugify

EXPORTS = Path(__file__).resolve().parent / "openreview"
V2 = EXPORTS / "export_v2.json"
V1 = EXPORTS / "export_v1.json"
V2_SLUGS = [
    "reproducible-benchmarks-for-graph-learning",
    "reproducible-benchmarks-for-graph-learning-2",
    "sparse-tensors-in-jax-revisited",
    "uber-effiziente-kernels-fur-divergenzen-ein-benchmark",
]


def run_import(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["import", "openreview", *args, "--root", str(root)])


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "submissions").mkdir()
    return tmp_path


def read(root: Path, slug: str) -> dict[str, object]:
    data = yaml.safe_load((root / "submissions" / slug / "submission.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_v2_export_writes_one_valid_folder_per_accepted_paper(root: Path) -> None:
    result = run_import(root, str(V2))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (root / "submissions").iterdir()) == V2_SLUGS
    for slug in V2_SLUGS:
        load_spec(root / "submissions" / slug / "submission.yml")  # valid for the toolkit
    unicode = read(root, "uber-effiziente-kernels-fur-divergenzen-ein-benchmark")
    assert unicode["title"] == "Über-effiziente Kernels für α-Divergenzen: ein Benchmark"
    assert unicode["authors"] == [
        {"name": "José Núñez", "affiliation": "Universidad de Córdoba"},
        {"name": "Zoë Ångström", "affiliation": "KTH"},
    ]
    assert unicode["session"] == "Oral"
    assert unicode["openreview_id"] == "Uq9_zzK-01"
    assert unicode["links"] == {"openreview": "https://openreview.net/forum?id=Uq9_zzK-01",
                                "pdf": "https://openreview.net/pdf?id=Uq9_zzK-01"}
    # Same title: the slugs follow the OpenReview ids, not the order of the export.
    assert read(root, V2_SLUGS[0])["openreview_id"] == "Aa11graphA"
    assert read(root, V2_SLUGS[0])["session"] == "Poster session 2, #14"
    second = read(root, V2_SLUGS[1])
    assert second["openreview_id"] == "Bb22graphB"
    assert second["links"] == {"openreview": "https://openreview.net/forum?id=Bb22graphB"}  # no PDF
    sparse = read(root, "sparse-tensors-in-jax-revisited")
    assert sparse["abstract"] == ("We revisit sparse tensor support in JAX.\n\n"
                                  "A benchmark of six formats on CPU shows where each wins.")
    assert "not accepted: Wd0withdrw 'A Paper Its Authors Withdrew'" in result.stderr
    assert "Withdrawn_Submission" in result.stderr


def test_v1_export_reads_plain_values_and_reports_the_rejected_paper(root: Path) -> None:
    result = run_import(root, str(V1))
    assert result.exit_code == 0, result.output
    assert [p.name for p in (root / "submissions").iterdir()] == ["profiling-pytorch-dataloaders"]
    paper = read(root, "profiling-pytorch-dataloaders")
    assert paper["authors"] == [{"name": "Ama Mensah"}]
    assert paper["session"] == "Spotlight"
    assert paper["links"] == {"openreview": "https://openreview.net/forum?id=V1paperAcc",
                              "pdf": "https://openreview.net/pdf?id=V1paperAcc"}
    assert "not accepted: V1paperRej 'A Rejected Paper'" in result.stderr


AUTHOR_PART = """\
# The artifact, written by the authors after the import.
artifact:
  notebook: analysis.ipynb
  parameters: {epochs: 3}
claims:
  - name: speedup
    expected: 2.5
    rel_tol: 0.1
    description: "Table 1"
"""


def test_reimport_updates_openreview_fields_and_keeps_what_authors_wrote(root: Path, tmp_path: Path) -> None:
    assert run_import(root, str(V2)).exit_code == 0
    path = root / "submissions" / "sparse-tensors-in-jax-revisited" / "submission.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - {name: Lars Berg}", '  - {name: Lars Berg, url: "https://example.org/lars"}')
    text = text.replace("links:\n", 'links:\n  code: "https://github.com/example/sparse"\n')
    path.write_text(text + AUTHOR_PART, encoding="utf-8")
    edited = json.loads(V2.read_text(encoding="utf-8"))
    edited[0]["content"]["title"]["value"] = "Sparse Tensors in JAX, Revisited Again"
    edited[0]["content"]["authors"]["value"].append("New Coauthor")
    export = tmp_path / "edited.json"
    export.write_text(json.dumps(edited), encoding="utf-8")

    result = run_import(root, str(export))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (root / "submissions").iterdir()) == V2_SLUGS  # the slug stays
    new_text = path.read_text(encoding="utf-8")
    assert new_text.endswith(AUTHOR_PART)  # byte for byte, comment included
    paper = read(root, "sparse-tensors-in-jax-revisited")
    assert paper["title"] == "Sparse Tensors in JAX, Revisited Again"
    assert paper["authors"] == [{"name": "Mina Okafor"},
                                {"name": "Lars Berg", "url": "https://example.org/lars"},
                                {"name": "New Coauthor"}]
    assert paper["links"] == {"openreview": "https://openreview.net/forum?id=Cx7aBc1Def",
                              "code": "https://github.com/example/sparse",
                              "pdf": "https://openreview.net/pdf?id=Cx7aBc1Def"}
    assert "updated: submissions/sparse-tensors-in-jax-revisited/submission.yml" in result.stderr
    assert "unchanged: submissions/reproducible-benchmarks-for-graph-learning/submission.yml" in result.stderr
    again = run_import(root, str(export))
    assert path.read_text(encoding="utf-8") == new_text
    assert "updated" not in again.stderr


def test_dry_run_prints_a_diff_per_file_and_writes_nothing(root: Path, tmp_path: Path) -> None:
    assert run_import(root, str(V2)).exit_code == 0
    shutil.rmtree(root / "submissions" / "sparse-tensors-in-jax-revisited")
    edited = V2.read_text(encoding="utf-8").replace("The first paper with this title.", "Now longer.")
    export = tmp_path / "edited.json"
    export.write_text(edited, encoding="utf-8")
    before = tree_digest(root / "submissions")

    result = run_import(root, str(export), "--dry-run")
    assert result.exit_code == 0, result.output
    assert tree_digest(root / "submissions") == before
    assert "--- /dev/null\n+++ b/submissions/sparse-tensors-in-jax-revisited/submission.yml" in result.stdout
    assert ("--- a/submissions/reproducible-benchmarks-for-graph-learning/submission.yml\n"
            "+++ b/submissions/reproducible-benchmarks-for-graph-learning/submission.yml") in result.stdout
    assert "-abstract: The first paper with this title.\n+abstract: Now longer." in result.stdout
    assert "graph-learning-2/submission.yml" not in result.stdout  # unchanged files show no diff
    assert "would update: submissions/reproducible-benchmarks-for-graph-learning/" in result.stderr


def test_a_paper_whose_title_matches_an_existing_folder_gets_its_own_slug(root: Path) -> None:
    folder = root / "submissions" / "sparse-tensors-in-jax-revisited"
    folder.mkdir()
    hand_made = "title: Hand made\nauthors: [{name: X}]\n"
    (folder / "submission.yml").write_text(hand_made, encoding="utf-8")
    assert run_import(root, str(V2)).exit_code == 0
    assert (folder / "submission.yml").read_text(encoding="utf-8") == hand_made
    assert read(root, "sparse-tensors-in-jax-revisited-2")["openreview_id"] == "Cx7aBc1Def"


def test_a_bad_note_is_one_line_and_the_others_are_imported(root: Path, tmp_path: Path) -> None:
    notes = json.loads(V1.read_text(encoding="utf-8"))
    del notes[0]["content"]["title"]
    notes.append({"id": "Ok2paper", "content": {"title": "Fine", "authors": ["Someone"]}})
    notes.append({"id": "../../etc", "content": {"title": "Evil", "authors": ["X"]}})
    export = tmp_path / "notes.json"
    export.write_text(json.dumps(notes), encoding="utf-8")

    result = run_import(root, str(export))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {export}: note 0 (id V1paperAcc): content.title: missing",
        f"error: {export}: note 3 (id ../../etc): id: missing or not an OpenReview id "
        "(letters, digits, '_' and '-')",
    ]
    assert [p.name for p in (root / "submissions").iterdir()] == ["fine"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not JSON"),
        ('{"results": []}', "(top level): expected a JSON list of notes"),
        ("[1]", "note 0: must be a JSON object, got int"),
    ],
)
def test_a_bad_export_is_one_line_naming_the_file(root: Path, tmp_path: Path, content: str,
                                                   expected: str) -> None:
    export = tmp_path / "export.json"
    export.write_text(content, encoding="utf-8")
    result = run_import(root, str(export))
    assert result.exit_code in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {export}: ") and expected in lines[0]
    assert list((root / "submissions").iterdir()) == []


def test_venue_without_the_extra_says_how_to_install_it(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openreview", None)  # what a machine without the extra sees
    result = run_import(root, "--venue", "ICML.cc/2025/Workshop/CODEML")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --venue needs openreview-py: pip install 'codeml_repro[openreview]' "
        "(or save the notes to a file and pass FILE)"
    ]


class FakeOpenReview(http.server.BaseHTTPRequestHandler):
    """GET /notes as API v2 answers it: sorted by id, paged with ``after``, with a count."""

    notes: ClassVar[list[dict[str, Any]]] = json.loads(V2.read_text(encoding="utf-8"))
    queries: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.queries.append(query)
        after = query.get("after", [""])[0]
        page = sorted((n for n in self.notes if n["id"] > after), key=lambda n: n["id"])
        body = json.dumps({"notes": page, "count": len(self.notes)}).encode()
        self.send_response(200 if url.path == "/notes" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_openreview(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenReview)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("OPENREVIEW_API_BASEURL_V2", url)
    FakeOpenReview.queries.clear()
    yield url
    server.shutdown()
    thread.join()


def test_venue_fetches_the_notes_with_openreview_py(root: Path, fake_openreview: str) -> None:
    pytest.importorskip("openreview")
    result = run_import(root, "--venue", "ICML.cc/2025/Workshop/CODEML")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (root / "submissions").iterdir()) == V2_SLUGS
    assert "not accepted: Wd0withdrw" in result.stderr
    first = FakeOpenReview.queries[0]
    assert "ICML.cc/2025/Workshop/CODEML" in json.dumps(first)  # the venue reached the API


def test_venue_when_the_network_fails_is_one_line(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openreview")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENREVIEW_API_BASEURL_V2", f"http://127.0.0.1:{port}")
    result = run_import(root, "--venue", "ICML.cc/2025/Workshop/CODEML")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: ICML.cc/2025/Workshop/CODEML: could not fetch the notes from http://127.0.0.1:{port}: ")
    assert list((root / "submissions").iterdir()) == []


def test_file_and_venue_are_exclusive(root: Path) -> None:
    assert run_import(root).exit_code == 2
    assert "give either FILE or --venue" in run_import(root, str(V2), "--venue", "X").stderr


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Über GPUs: α-tests!", "uber-gpus-tests"),
        ("深度学习", "paper"),
        ("A " + "verylongword " * 20 + "title", "a" + "-verylongword" * 4),  # whole words, <= 60
    ],
)
def test_slugs_are_plain_ascii_and_short(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_an_existing_file_with_yaml_aliases_is_one_problem_and_the_others_imported(root: Path) -> None:
    folder = root / "submissions" / "hostile"
    folder.mkdir()
    (folder / "submission.yml").write_text("a: &x [1, 2]\nb: [*x, *x]\n", encoding="utf-8")
    result = run_import(root, str(V2))
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {folder / 'submission.yml'}: not readable")
    assert sorted(p.name for p in (root / "submissions").iterdir()) == sorted(["hostile", *V2_SLUGS])
    assert (folder / "submission.yml").read_text(encoding="utf-8") == "a: &x [1, 2]\nb: [*x, *x]\n"


def _note(ident: str, title: str, abstract: str = "A.", authors: list[str] | None = None) -> dict[str, Any]:
    return {"id": ident, "forum": ident, "content": {
        "title": {"value": title}, "abstract": {"value": abstract},
        "authors": {"value": authors or ["Ada Lovelace"]},
        "venueid": {"value": "ICML.cc/2025/Workshop/CODEML"},
    }}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels deep"),
        ('[{"id": "D1", "content": {"title": ' + "[" * 40 + "]" * 40 + "}}]", "nested more than 32 levels"),
        ("[" + " " * (65 * 1024**2) + "]", "larger than 64 MiB"),
        (b"\xff[]", "not UTF-8"),
    ],
    ids=["recursion", "deep", "huge", "bytes"],
)
def test_an_export_past_the_bounds_is_one_line_and_writes_nothing(
    root: Path, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    """Deeply nested JSON ended the import with a RecursionError traceback."""
    export = tmp_path / "export.json"
    if isinstance(content, bytes):
        export.write_bytes(content)
    else:
        export.write_text(content, encoding="utf-8")
    result = run_import(root, str(export))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {export}: ") and expected in lines[0], lines
    assert "Traceback" not in result.output and list((root / "submissions").iterdir()) == []


def test_a_5_mb_abstract_is_cut_to_fit_and_a_reimport_still_works(root: Path, tmp_path: Path) -> None:
    """A 5 MB abstract was written as a submission.yml the loader refuses (> 256 KiB), after which
    every later import exited 2: one paper blocked all re-imports."""
    export = tmp_path / "notes.json"
    notes = [_note("Huge1", "A Long Abstract", "word " * 1_000_000), _note("Zok1", "A Fine Neighbour")]
    export.write_text(json.dumps(notes), encoding="utf-8")
    first = run_import(root, str(export))
    assert first.exit_code == 0, first.output
    assert "OpenReview note Huge1: abstract cut to 20,000 characters (it has 4,999,999)" in first.stderr
    for slug in ("a-long-abstract", "a-fine-neighbour"):
        spec = load_spec(root / "submissions" / slug / "submission.yml")  # the toolkit's own loader
        assert spec.title in ("A Long Abstract", "A Fine Neighbour")
    huge = load_spec(root / "submissions" / "a-long-abstract" / "submission.yml")
    assert len(huge.abstract) == 20_000 and huge.abstract.endswith("\u2026")
    notes[1]["content"]["title"]["value"] = "A Fine Neighbour, Revised"
    export.write_text(json.dumps(notes), encoding="utf-8")
    again = run_import(root, str(export))
    assert again.exit_code == 0, again.output
    assert "unchanged: submissions/a-long-abstract/submission.yml" in again.stderr
    assert "updated: submissions/a-fine-neighbour/submission.yml" in again.stderr
    assert read(root, "a-fine-neighbour")["title"] == "A Fine Neighbour, Revised"


def test_a_file_over_the_loaders_limit_blocks_only_its_own_paper(root: Path, tmp_path: Path) -> None:
    """An earlier import (or a hand) left a file the loader refuses: that paper is reported, the others
    are imported and updated, and no second folder is made for it."""
    folder = root / "submissions" / "a-long-abstract"
    folder.mkdir()
    big = ("title: A Long Abstract\nauthors: [{name: A}]\nabstract: " + "x" * 300_000
           + "\nopenreview_id: Huge1\n")
    (folder / "submission.yml").write_text(big, encoding="utf-8")
    many = [f"Author {n}" for n in range(20_000)]  # a file the loader would refuse, whatever is cut
    export = tmp_path / "notes.json"
    notes = [_note("Huge1", "A Long Abstract"), _note("Many1", "Many Authors", authors=many),
             _note("Zok1", "A Fine Neighbour")]
    export.write_text(json.dumps(notes), encoding="utf-8")
    result = run_import(root, str(export))
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 2, errors
    assert errors[0].startswith(f"error: {folder / 'submission.yml'}: not readable (larger than 256 KiB")
    assert errors[0].endswith("OpenReview note Huge1 not imported; fix or remove that file")
    assert errors[1].startswith("error: OpenReview note Many1 -> ")
    assert "not written: it would not load" in errors[1]
    assert sorted(p.name for p in (root / "submissions").iterdir()) == ["a-fine-neighbour", "a-long-abstract"]
    assert (folder / "submission.yml").read_text(encoding="utf-8") == big
    assert load_spec(root / "submissions" / "a-fine-neighbour" / "submission.yml").title == "A Fine Neighbour"
