"""Record a value from an artifact notebook, with no dependency but IPython.

Writes the same display output as scrapbook's ``sb.glue`` (JSON encoder), so
``run/batch/recorded.py`` reads values recorded by ``record``, scrapbook and myst-nb alike.
This module must import with the standard library only: it is copied into
per-submission environments that do not have the toolkit's dependencies.

Outside a Jupyter kernel (the notebook exported to a script, IPython absent)
``record`` prints one line instead of recording. Where ``codeml_repro`` is not
installed at all, the import itself fails: the authors' guide gives the
:data:`FALLBACK` lines that keep such a notebook running elsewhere.
"""

from __future__ import annotations

import json
import math
from typing import Any

SCRAP_MIME = "application/scrapbook.scrap.json+json"

FALLBACK = """\
try:
    from codeml_repro import record
except ImportError:  # not installed: print the value instead of recording it
    def record(name, value, **_):
        print(f"{name} = {value!r} (not recorded: codeml_repro is not installed)")
"""
"""The lines the guide gives for a notebook that must also run where codeml_repro is absent."""


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
        return repr(value)  # 'nan', 'inf', '-inf': kernels' JSON cannot carry them (allow_nan=False)
    return value


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_has_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    return bool(hasattr(value, "item") and getattr(value, "ndim", 1) == 0 and _has_nonfinite(value.item()))


def _plain_repr(value: Any) -> str:
    """``repr`` of a value with numpy scalars unwrapped (``nan``, not ``np.float64(nan)``)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    return repr(value)


def record(name: str, value: Any, *, display: bool = True) -> None:
    """Record ``value`` under ``name`` for the reproducibility check.

    NaN and infinity are observations too (a diverged training run): they are recorded as the
    strings 'nan' / 'inf' / '-inf' with ``nonfinite`` set, and read back as floats.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"record(): name {name!r} must be a Python identifier")
    data = _plain(value)
    json.dumps(data)  # fail in the author's cell, not later in the checker
    try:
        from IPython import get_ipython
        from IPython.display import display as ipy_display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:  # a script, not a kernel: nothing to record into
        print(f"{name} = {_plain_repr(value)} (not recorded: not in a Jupyter kernel)")
        return

    scrap: dict[str, Any] = {"name": name, "data": data, "encoder": "json", "version": 1}
    nonfinite = _has_nonfinite(value)
    if nonfinite:
        scrap["nonfinite"] = True
    shown = _plain_repr(value) if nonfinite else repr(data)
    payload = {SCRAP_MIME: scrap, "text/plain": f"{name} = {shown}" if display else ""}
    ipy_display(payload, raw=True, metadata={"scrapbook": {"name": name, "data": True, "display": display}})
