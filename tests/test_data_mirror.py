"""A workshop's content-addressed mirror: `data export` writes the cache as sha256/<hash>, and
CODEML_DATA_MIRROR serves inputs whose links rotted; verified like any input, beside a neighbour."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.result import Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.plan.planning import RunOptions
from tests.conftest import MakeSubmission
from tests.dataserver import DataServer

pytestmark = pytest.mark.slow

CSV = b"x,y\n1,2\n"
OTHER = b"a,b\n3,4\n"
READS = "from codeml_repro import record\nrecord('n', len(open('x.csv').read()))"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _policy() -> RunPolicy:
    """The policy the CLI makes from this environment (CODEML_DATA_MIRROR, CODEML_ALLOW_PRIVATE_URLS)."""
    from codeml_repro.cli.options import environment_settings

    sandbox = "required" if shutil.which("bwrap") else "off"
    return RunPolicy(**environment_settings() | {"sandbox": sandbox, "env": "current", "cell_timeout_s": 60})


def _spec(url: str, data: bytes) -> dict[str, object]:
    return {"artifact": {"data": [{"url": url, "sha256": sha(data), "path": "x.csv"}]},
            "claims": [{"name": "n", "expected": len(data)}]}


def test_exported_cache_serves_rotted_links_and_a_wrong_mirror_file_is_passed_over(
    tmp_path: Path, make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEML_ALLOW_PRIVATE_URLS", "1")  # the test's servers are on 127.0.0.1
    monkeypatch.delenv("CODEML_DATA_MIRROR", raising=False)
    authors = DataServer({"x.csv": CSV, "other.csv": OTHER})
    try:
        # an earlier edition's run filled the cache from the authors' server; export it
        monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "old-cache"))
        make_submission("a-first", READS, spec=_spec(authors.url("file/x.csv"), CSV))
        assert run_all(tmp_path, _policy(), RunOptions()).results[0].status == Status.REPRODUCED
        mirror_dir = tmp_path / "mirror"
        done = subprocess.run([sys.executable, "-m", "codeml_repro.cli", "data", "export", str(mirror_dir)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert (mirror_dir / "sha256" / sha(CSV)).read_bytes() == CSV
        (mirror_dir / "sha256" / sha(OTHER)).write_bytes(b"tampered")  # the mirror holds bad bytes for one
        authors.requests.clear()
        # a fresh runner: the authors' link for x.csv has rotted, the mirror has it
        monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "new-cache"))
        shutil.rmtree(tmp_path / "submissions")
        shutil.rmtree(tmp_path / "results")
        mirror = DataServer({f"sha256/{p.name}": p.read_bytes() for p in (mirror_dir / "sha256").iterdir()})
        try:
            monkeypatch.setenv("CODEML_DATA_MIRROR", mirror.url("file"))
            make_submission("a-rotted", READS, spec=_spec(authors.url("file/gone.csv"), CSV))
            make_submission("b-other", READS, spec=_spec(authors.url("file/other.csv"), OTHER))
            make_submission("zz-next", "from codeml_repro import record\nrecord('n', 1)",
                            spec={"claims": [{"name": "n", "expected": 1}]})
            results = {r.slug: r for r in run_all(tmp_path, _policy(), RunOptions()).results}
        finally:
            mirror.stop()
    finally:
        authors.stop()
    assert results["a-rotted"].status == Status.REPRODUCED, results["a-rotted"].error
    assert results["b-other"].status == Status.REPRODUCED, results["b-other"].error
    assert results["zz-next"].status == Status.REPRODUCED
    assert sorted(mirror.requests) == sorted([f"/file/sha256/{sha(CSV)}", f"/file/sha256/{sha(OTHER)}"])
    assert authors.requests == ["/file/other.csv"]  # the mirror first; the author only when it was wrong
    assert (tmp_path / "new-cache" / "data" / "files" / sha(OTHER)).read_bytes() == OTHER
