"""Results of single matrix cells and bisect probes, kept by their key.

``results/cells/<slug>/<key>.json``: a cell whose key (code, parameters, budgets and the
exact versions it ran on) was seen before is not run again, whether a matrix or ``bisect``
ran it. The submission's own result (``results/<slug>.json``) carries every cell it used, and
its cells are read back by key as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from codeml_repro.model.result import MatrixCellResult
from codeml_repro.results.store import ResultStore, atomic_write


@dataclass(frozen=True)
class CellCache:
    """The ``results/cells/`` folder of a root."""

    root: Path

    def path(self, slug: str, key: str) -> Path:
        return self.root / "results" / "cells" / slug / f"{key}.json"

    def read(self, slug: str, key: str) -> MatrixCellResult | None:
        """The cell recorded under ``key``; None when there is none (or it is unreadable).

        A cell of the submission's last result counts too: CI carries ``results/<slug>.json``
        from run to run, not this folder, and a key names one outcome wherever it is written.
        """
        try:
            return MatrixCellResult.model_validate_json(self.path(slug, key).read_bytes())
        except (OSError, ValidationError):
            pass
        recorded = ResultStore(self.root).read(slug)
        return next((c for c in recorded.matrix if c.key == key), None) if recorded else None

    def write(self, slug: str, cell: MatrixCellResult) -> None:
        data = json.dumps(cell.model_dump(mode="json"), indent=1, sort_keys=True).encode()
        atomic_write(self.path(slug, cell.key), data)
