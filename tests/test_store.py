from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from codeml_repro.model.result import Result, Status
from codeml_repro.results.store import ResultStore

WRITER = r"""
import sys
from pathlib import Path
from codeml_repro.model.result import Result, Status
from codeml_repro.results.store import ResultStore

store = ResultStore(Path(sys.argv[1]))
big = "x" * 200_000  # a large notebook makes the write window wide
i = 0
while True:
    i += 1
    result = Result(slug="paper", status=Status.FUNCTIONAL, duration_s=float(i), title=big[: i % 5000])
    store.write(result, notebook=('{"cells": [], "n": %d, "pad": "%s"}' % (i, big)).encode())
    print(i, flush=True)
"""


def _assert_all_valid(root: Path) -> None:
    store = ResultStore(root)
    result = store.read("paper")
    assert result is not None and result.status is Status.FUNCTIONAL
    assert store.problems == []
    json.loads(store.notebook_path("paper").read_text())
    for line in store.history_path("paper").read_text().splitlines():
        json.loads(line)


def test_sigkill_mid_write_leaves_valid_files(tmp_path: Path) -> None:
    kills = 0
    for attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one complete write happened
        time.sleep(0.01 * (attempt % 5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        _assert_all_valid(tmp_path)
    assert kills == 12
    leftovers = [p for p in (tmp_path / "results").rglob("*.tmp")]
    # Killed writers may leave temp files, never a corrupt real one; they are hidden and ignored.
    assert all(p.name.startswith(".") for p in leftovers)


def test_two_writers_at_once(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        for _ in range(5):
            proc.stdout.readline()
    for proc in procs:
        proc.kill()
        proc.wait()
    _assert_all_valid(tmp_path)
    assert len(ResultStore(tmp_path).history("paper")) >= 10


def test_corrupt_result_is_reported_not_raised(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write(Result(slug="ok", status=Status.REPRODUCED))
    store.result_path("bad").write_text("{truncated", encoding="utf-8")
    results = store.read_all()
    assert set(results) == {"ok"}
    assert len(store.problems) == 1 and "bad.json: corrupt result" in store.problems[0]
    store.write(Result(slug="bad", status=Status.FAILED))
    again = ResultStore(tmp_path)
    assert again.read("bad") is not None and again.problems == []


def test_history_appends_and_skips_bad_lines(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    for status in (Status.REPRODUCED, Status.NOT_REPRODUCED):
        store.write(Result(slug="p", status=status, finished_at="2026-01-01T00:00:00Z"))
    with store.history_path("p").open("a") as handle:
        handle.write("{garbage\n")
    history = store.history("p")
    assert [r.status for r in history] == [Status.REPRODUCED, Status.NOT_REPRODUCED]
    assert any("unreadable history line" in p for p in store.problems)


def test_non_utf8_result_is_reported(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.results_dir.mkdir(parents=True)
    store.result_path("bin").write_bytes(b"\xff\xfe\x00garbage")
    assert store.read_all() == {}
    assert "bin.json: corrupt result" in store.problems[0]
