"""The README's sandbox table says what the code does: its rows checked against the runner's choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.submission import Submission, load_submission
from codeml_repro.run.kernel import prepare
from codeml_repro.run.sandbox import cgroups
from tests.conftest import REPO, MakeSubmission

POLICY = RunPolicy(sandbox="off", env="current", timeout_s=60)


def _row(budget: str) -> str:
    """The sandbox table's row whose first cell starts with ``budget``."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [ln for ln in readme.splitlines() if ln.startswith(f"| {budget}")]
    assert len(rows) == 1, rows
    return rows[0]


def _address_space(sub: Submission) -> bool:
    prep = prepare.prepare(sub, POLICY, timeout_s=60)
    try:
        return prep.limits.address_space
    finally:
        prepare.discard(prep)


def test_rlimit_as_applies_only_where_no_cgroup_bounds_the_memory(
    make_submission: MakeSubmission, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    row = _row("memory")
    assert "in every case" not in row
    assert "`RLIMIT_AS` per process only where no cgroup bounds the memory (and never with a GPU)" in row
    sub = load_submission(make_submission("paper", "x = 1"))
    group = cgroups.create(f"probe-as-{tmp_path.name}", 64 * 2**20, 16)
    cgroups.remove(group)
    if group is not None and "memory" in group.in_force:  # this host bounds a run's memory
        assert _address_space(sub) is False
    monkeypatch.setattr(cgroups, "create", lambda *args, **kwargs: None)
    assert _address_space(sub) is True  # no cgroup: RLIMIT_AS is the cap
    assert prepare.address_space_capped(None, gpu=object()) is False  # type: ignore[arg-type]
