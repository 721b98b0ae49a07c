"""Results on disk, never half-written.

Layout under ``results/``: ``<slug>.json`` (latest result),
``history/<slug>.jsonl`` (one line per run), ``notebooks/<slug>.ipynb``.
Every file is replaced atomically (temp file in the same directory, fsync,
``os.replace``) under a per-slug file lock, so a runner killed at any moment,
or two runners at once, leave only complete files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from codeml_repro.model.errors import StoreError
from codeml_repro.model.result import Result, RunRecord
from codeml_repro.model.shownpaths import from_root
from codeml_repro.model.submission import is_slug

HISTORY_LIMIT = 200


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_history(path: Path, problems: list[str], shown: str | None = None) -> list[RunRecord]:
    """The records of one history file; unreadable lines are skipped and reported (as ``shown``)."""
    records = []
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(RunRecord.model_validate_json(line))
        except ValidationError:  # also bad UTF-8 and bad JSON
            problems.append(f"{shown or path}:{n}: unreadable history line skipped")
    return records


@dataclass
class ResultStore:
    """The ``results/`` folder of a root."""

    root: Path
    problems: list[str] = field(default_factory=list)

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    def result_path(self, slug: str) -> Path:
        return self.results_dir / f"{slug}.json"

    def shown(self, path: Path) -> str:
        """``path`` as a problem names it: relative to the root (problems reach the book)."""
        return from_root(str(path), self.root)

    def history_path(self, slug: str) -> Path:
        return self.results_dir / "history" / f"{slug}.jsonl"

    def notebook_path(self, slug: str) -> Path:
        return self.results_dir / "notebooks" / f"{slug}.ipynb"

    @contextlib.contextmanager
    def lock(self, slug: str) -> Iterator[None]:
        lock_dir = self.results_dir / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / f"{slug}.lock"), timeout=600):
            yield

    def read(self, slug: str) -> Result | None:
        """The latest result, or None; a corrupt file is reported, not raised."""
        if not is_slug(slug):
            return None  # an odd folder name: never recorded (see run_planned)
        path = self.result_path(slug)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = from_root(str(exc), self.root)
            self.problems.append(
                f"{self.shown(path)}: cannot read ({reason}); it will be replaced on the next run"
            )
            return None
        try:
            return Result.model_validate_json(raw)
        except ValidationError as exc:  # also bad UTF-8 and bad JSON
            self.problems.append(
                f"{self.shown(path)}: corrupt result ({exc.errors()[0]['msg']}); it will be replaced on the "
                "next run"
            )
            return None

    def read_all(self) -> dict[str, Result]:
        if not self.results_dir.is_dir():
            return {}
        out = {}
        for path in sorted(self.results_dir.glob("*.json")):
            result = self.read(path.stem)
            if result is not None:
                out[path.stem] = result
        return out

    def history(self, slug: str) -> list[RunRecord]:
        """Past runs, oldest first; unreadable lines are skipped and reported."""
        path = self.history_path(slug)
        return read_history(path, self.problems, self.shown(path)) if path.is_file() else []

    def write(self, result: Result, notebook: bytes | None = None) -> None:
        """Record a finished run: notebook, history line, then the result."""
        slug = result.slug
        try:
            with self.lock(slug):
                if notebook is not None:
                    atomic_write(self.notebook_path(slug), notebook)
                past = self.history(slug)[-(HISTORY_LIMIT - 1) :]
                lines = [r.model_dump_json() for r in [*past, result.to_record()]]
                atomic_write(self.history_path(slug), ("\n".join(lines) + "\n").encode())
                body = json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"
                atomic_write(self.result_path(slug), body.encode())
        except OSError as exc:
            raise StoreError(f"{self.results_dir}: cannot write results for {slug}: {exc}") from exc

    def write_history(self, slug: str, records: list[RunRecord]) -> None:
        """Replace a slug's history (used by merge)."""
        with self.lock(slug):
            lines = [r.model_dump_json() for r in records[-HISTORY_LIMIT:]]
            atomic_write(self.history_path(slug), ("\n".join(lines) + "\n").encode())
