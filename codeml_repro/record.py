"""Record a value from an artifact notebook, with no dependency but IPython.

Writes the same display output as scrapbook's ``sb.glue`` (JSON encoder), so
``claims.py`` reads values recorded by ``record``, scrapbook and myst-nb alike.
This module must import with the standard library only: it is copied into
per-submission environments that do not have the toolkit's dependencies.
"""

from __future__ import annotations

import json
import math
from typing import Any

SCRAP_MIME = "application/scrapbook.scrap.json+json"


def _plain(value: Any) -> Any:
    """Turn numpy scalars and tuples into JSON-ready Python values."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"record(): value {value!r} is not a finite number")
    return value


def record(name: str, value: Any, *, display: bool = True) -> None:
    """Record ``value`` under ``name`` for the reproducibility check."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"record(): name {name!r} must be a Python identifier")
    data = _plain(value)
    json.dumps(data)  # fail in the author's cell, not later in the checker
    from IPython.display import display as ipy_display

    payload = {
        SCRAP_MIME: {"name": name, "data": data, "encoder": "json", "version": 1},
        "text/plain": f"{name} = {data!r}" if display else "",
    }
    ipy_display(payload, raw=True, metadata={"scrapbook": {"name": name, "data": True, "display": display}})
