"""A version matrix against the same runs one by one, and re-runs served from caches.

Usage: python benchmarks/bench_matrix.py [--jobs 2] [--sandbox auto]
Offline: four releases of a tiny package are built as wheels and served through
CODEML_FIND_LINKS alone (ipykernel comes from uv's cache). Each scenario gets its own
environment cache (CODEML_CACHE), so every environment is built in the timed run:

- matrix --jobs N:      one submission, ``artifact.matrix`` with the 4 releases (4 cells)
- 4 sequential runs:    four submissions, each pinning one release, ``run --jobs 1``
- matrix, cells cached: the matrix submission re-run after its matrix was reordered
                        (its key changed, every cell's did not: nothing runs)
- matrix --force:       every cell run again, every environment cached
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml
from common import cli, notebook, report, timed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' wheel builder
from tests.wheels import TINY, build_versions

RELEASES = ["1.0", "2.0", "3.0", "4.0"]
SOURCE = "import codeml_tiny_fixture as tiny\nfrom codeml_repro import record\nrecord('value', tiny.VALUE)\n"


def _submission(root: Path, slug: str, pin: str, matrix: list[str] | None) -> Path:
    folder = root / "submissions" / slug
    folder.mkdir(parents=True)
    spec: dict[str, object] = {
        "title": slug,
        "authors": [{"name": "Bench"}],
        "claims": [{"name": "value", "expected": 1.0, "abs_tol": 0.01}],
    }
    if matrix is not None:
        spec["artifact"] = {"matrix": {TINY: matrix}}
    (folder / "submission.yml").write_text(yaml.safe_dump(spec))
    (folder / "requirements.txt").write_text(f"{TINY}=={pin}\n")
    nbformat.write(notebook(SOURCE), folder / "artifact.ipynb")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandbox", default="auto", choices=["required", "auto", "off"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codeml-bench-matrix-"))
    wheels = build_versions(work / "wheels", {v: f"VALUE = {v}\n" for v in RELEASES})
    env = {**os.environ, "CODEML_FIND_LINKS": str(wheels), "CODEML_OFFLINE": "1"}
    run = ["run", "--sandbox", args.sandbox]

    matrix_root, single_root = work / "matrix", work / "single"
    matrix_folder = _submission(matrix_root, "matrix", RELEASES[0], RELEASES)
    for release in RELEASES:
        _submission(single_root, f"single-{release.replace('.', '-')}", release, None)

    rows = {
        "4 sequential runs": timed(
            cli(*run, "--jobs", "1", "--root", str(single_root)),
            env={**env, "CODEML_CACHE": str(work / "c1")},
        ),
        f"matrix --jobs {args.jobs}": timed(
            cli(*run, "--jobs", str(args.jobs), "--root", str(matrix_root)),
            env={**env, "CODEML_CACHE": str(work / "c2")},
        ),
    }
    spec = yaml.safe_load((matrix_folder / "submission.yml").read_text())
    spec["artifact"]["matrix"][TINY] = RELEASES[::-1]
    (matrix_folder / "submission.yml").write_text(yaml.safe_dump(spec))
    cached = {**env, "CODEML_CACHE": str(work / "c2")}
    rows["matrix, cells cached"] = timed(cli(*run, "--root", str(matrix_root)), env=cached)
    rows["matrix --force, envs cached"] = timed(
        cli(*run, "--force", "--jobs", str(args.jobs), "--root", str(matrix_root)), env=cached
    )
    status = timed(cli("status", "--root", str(matrix_root)), env=cached)
    result = json.loads((matrix_root / "results" / "matrix.json").read_text())
    cells = [(c["versions"][TINY], c["status"]) for c in result["matrix"]]
    print(f"matrix result: {result['status']}; cells {cells}")  # 1.0 holds, the others do not
    report(f"4-cell matrix vs 4 single-environment runs (sandbox {args.sandbox}; status {status:.2f} s)",
           rows, "4 sequential runs")


if __name__ == "__main__":
    main()
