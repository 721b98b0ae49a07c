"""requirements.txt is data: requirement lines only; options make the submission invalid alone."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.requirements import check_requirements, local_files_digest
from codeml_repro.model.result import Status
from codeml_repro.run.batch.runall import run_all
from codeml_repro.run.env.environment import requirements_hash
from codeml_repro.run.plan.planning import RunOptions
from tests.wheels import build_wheel

from .conftest import MakeSubmission

REFUSED = [
    ("-r /etc/passwd", "option '-r' is not allowed"),
    ("--requirement=/etc/shadow", "option '--requirement' is not allowed"),
    ("-c ../constraints.txt", "option '-c' is not allowed"),
    ("--index-url https://evil.invalid/simple", "option '--index-url' is not allowed"),
    ("--extra-index-url=http://evil.invalid", "option '--extra-index-url' is not allowed"),
    ("--find-links /var/tmp/wheels", "option '--find-links' is not allowed"),
    ("-e .", "option '-e' is not allowed"),
    ("--trusted-host evil.invalid", "option '--trusted-host' is not allowed"),
    ("numpy \\\n  --index-url https://evil.invalid", "per-requirement options"),
    ("pkg @ https://evil.invalid/pkg-1.0-py3-none-any.whl", "a URL requirement is not allowed"),
    ("pkg @ git+https://evil.invalid/pkg", "a URL requirement is not allowed"),
    ("../outside-1.0-py3-none-any.whl", "relative and inside the submission folder"),
    ("/etc/passwd", "relative and inside the submission folder"),
    ("pkg @ file:///etc/passwd", "relative and inside the submission folder"),
    ("./missing-1.0-py3-none-any.whl", "not in the submission folder"),
    ("numpy --global-option=--x", "per-requirement options"),
]


@pytest.mark.parametrize(("line", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
def test_option_lines_are_refused_with_one_line(tmp_path: Path, line: str, expected: str) -> None:
    folder = tmp_path / "paper"
    folder.mkdir()
    req = folder / "requirements.txt"
    req.write_text(f"# ok so far\nscipy>=1.10\n{line}\n")
    with pytest.raises(SubmissionInvalid) as info:
        check_requirements(req)
    message = info.value.message
    assert message.startswith("paper/requirements.txt:3: ") and expected in message, message
    assert "\n" not in message and "root:" not in message and str(tmp_path) not in message


def test_requirement_lines_hashes_and_local_wheels_are_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    (folder / "wheels").mkdir(parents=True)
    (folder / "wheels" / "tiny-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (folder / "pkg").mkdir()
    (folder / "requirements.txt").write_text(
        "numpy>=1.26,<3 ; python_version >= '3.9'  # arrays\n"
        "scikit-learn[alldeps]==1.5.2 \\\n    --hash=sha256:" + "a" * 64 + "\n"
        "./wheels/tiny-1.0-py3-none-any.whl\n"
        "tiny @ file:wheels/tiny-1.0-py3-none-any.whl\n"
        "./pkg\n\n"
    )
    check_requirements(folder / "requirements.txt")


def test_the_environment_key_covers_local_wheel_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    folder.mkdir()
    wheel = folder / "tiny-1.0-py3-none-any.whl"
    wheel.write_bytes(b"first build")
    req = folder / "requirements.txt"
    req.write_text("./tiny-1.0-py3-none-any.whl\n")
    python = platform.python_version()
    first = requirements_hash(req.read_text(), python, local=local_files_digest(req))
    wheel.write_bytes(b"rebuilt")
    second = requirements_hash(req.read_text(), python, local=local_files_digest(req))
    assert first != second
    plain = folder / "plain.txt"
    plain.write_text("numpy\n")
    assert local_files_digest(plain) == ""  # no local file: the key is what it always was
    assert requirements_hash("numpy\n", python, local="") == requirements_hash("numpy\n", python)


def test_a_refused_requirements_file_is_invalid_alone(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    bad = make_submission("a-index", "x = 1", spec={"artifact": {"requirements": "requirements.txt"}})
    (bad / "requirements.txt").write_text("--extra-index-url https://evil.invalid/simple\nnumpy\n")
    make_submission("b-neighbour", "x = 1")
    policy = RunPolicy(sandbox="off", env="current", timeout_s=60)
    results = {r.slug: r for r in run_all(tmp_path, policy, RunOptions()).results}
    assert results["b-neighbour"].status is Status.FUNCTIONAL
    refused = results["a-index"]
    assert refused.status is Status.INVALID and refused.error is not None
    assert "a-index/requirements.txt:1: " in refused.error.message


USES_TINY = "import codeml_tiny_fixture as tiny\nfrom codeml_repro import record\nrecord('acc', tiny.VALUE)"


def test_a_rebuilt_local_wheel_builds_a_new_environment(
    make_submission: MakeSubmission, tmp_path: Path
) -> None:
    # same name, same version, new bytes: an environment keyed on the requirements text alone
    # would keep the first build, and the claim would still hold
    spec = {"artifact": {"requirements": "requirements.txt"}, "claims": [{"name": "acc", "expected": 1}]}
    folder = make_submission("a-wheel", USES_TINY, spec=spec)
    wheel = build_wheel(folder, "1.0", "VALUE = 1\n")
    (folder / "requirements.txt").write_text(f"./{wheel.name}\n")
    policy = RunPolicy(sandbox="off", env="auto", timeout_s=120, offline=True, cache=tmp_path / "cache")
    [first] = run_all(tmp_path, policy, RunOptions()).results
    if first.error is not None and first.error.type == "EnvironmentFailed":
        pytest.skip(f"uv cannot build a venv offline here: {first.error.message}")
    assert first.status is Status.REPRODUCED, first.error
    build_wheel(folder, "1.0", "VALUE = 2\n")
    [second] = run_all(tmp_path, policy, RunOptions()).results
    assert second.status is Status.NOT_REPRODUCED, second.error
    assert second.environment["requirements_hash"] != first.environment["requirements_hash"]
