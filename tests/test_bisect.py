"""bisect: the first release on which a claim breaks, in few probes, served from local wheels only."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codeml_repro.cli import cli
from codeml_repro.model.errors import ReproError
from codeml_repro.run.batch.bisect import bisect
from tests.conftest import MakeSubmission
from tests.test_matrix import _matrix_submission, _policy, wheels  # noqa: F401 (a fixture)
from tests.wheels import TINY, build_wheel

RELEASES = ["1.0", "2.0", "3.0", "4.0", "5.0"]


def _releases(folder: Path, first_bad: str) -> None:
    """Five releases: VALUE is 1.0 before ``first_bad`` and 2.0 from it on."""
    for version in RELEASES:
        build_wheel(folder, version, f"VALUE = {2.0 if float(version) >= float(first_bad) else 1.0}\n")


@pytest.mark.parametrize("first_bad", ["2.0", "4.0", "5.0"])
def test_bisect_finds_the_first_bad_release_in_three_probes(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path, first_bad: str  # noqa: F811
) -> None:
    _releases(wheels, first_bad)
    _matrix_submission(make_submission, ["1.0"])
    report = bisect(tmp_path, "tiny", TINY, "1.0", "5.0", _policy())
    assert report.releases == RELEASES
    assert report.first_bad is not None and report.first_bad.version == first_bad
    last_good = RELEASES[RELEASES.index(first_bad) - 1]
    assert report.last_good is not None and report.last_good.version == last_good
    assert len(report.probes) <= 3 and not any(p.cached for p in report.probes)
    ((before, after),) = report.broken_claims
    assert (before.name, before.observed, after and after.observed) == ("value", 1.0, 2.0)


def test_bisect_command_reports_the_claim_and_reuses_probed_versions(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path  # noqa: F811
) -> None:
    _releases(wheels, "3.0")
    _matrix_submission(make_submission, ["1.0"])
    args = ["bisect", "tiny", "--package", TINY, "--good", "1.0", "--bad", "5.0"]
    args += ["--root", str(tmp_path), "--sandbox", "off"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert f"first bad version: {TINY} 3.0 (last good: 2.0;" in first.stdout
    assert "claim value: 1.0 on 2.0 -> 2.0 on 3.0 (expected 1.0)" in first.stdout
    probed = [line for line in first.stderr.splitlines() if line.startswith("probe ")]
    assert 2 <= len(probed) <= 3 and not any("(cached)" in line for line in probed)
    again = CliRunner().invoke(cli, args)  # the same versions, code and budgets: read back
    assert again.exit_code == 0 and again.stdout == first.stdout
    assert [line.split(":")[0] + ": cached" for line in probed] == [
        line.split(":")[0] + ": cached" for line in again.stderr.splitlines() if "(cached)" in line
    ]


def test_bisect_says_when_the_range_has_no_break(
    wheels: Path, make_submission: MakeSubmission, tmp_path: Path  # noqa: F811
) -> None:
    build_wheel(wheels, "3.0", "VALUE = 2.0\n")  # the fixture's 1.0 holds, 2.0 does not
    _matrix_submission(make_submission, ["1.0"])
    args = ["bisect", "tiny", "--package", TINY, "--root", str(tmp_path), "--sandbox", "off"]
    out = CliRunner().invoke(cli, [*args, "--good", "2.0", "--bad", "3.0"])
    assert out.exit_code == 1, out.output
    assert f"no boundary found: the claims do not hold on {TINY} 2.0 either (not_reproduced)" in out.stdout
    with pytest.raises(ReproError, match=r"--bad 9.0: not a release of codeml-tiny-fixture"):
        bisect(tmp_path, "tiny", TINY, "1.0", "9.0", _policy())
    out = CliRunner().invoke(cli, [*args, "--good", "2.0", "--bad", "1.0"])
    assert out.exit_code == 2 and "--good 2.0 must be older than --bad 1.0" in out.stderr
