"""Values an executed notebook recorded (``record``, scrapbook, myst-nb's glue), read from its outputs.

A claim's value printed in a cell's output (``output: {cell, regex}``) is read by
:mod:`codeml_repro.run.batch.outputclaims`; :mod:`codeml_repro.run.batch.claims` compares the
values with the claims.

Values are parsed as literals (JSON, then ``ast.literal_eval``), never evaluated: a notebook's
outputs are untrusted.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from codeml_repro.model.artifact import Claim
from codeml_repro.model.text import bracket_depth
from codeml_repro.record import SCRAP_MIME

SCRAP_MIMES = (SCRAP_MIME, "application/scrapbook.scrap.text+json")
_NUMPY_WRAPPER = re.compile(r"^(?:np|numpy)\.(?:float|int|uint|bool_?|str_)\w*\((.*)\)$", re.S)
_MISSING = object()
GLUE_HIDDEN_PREFIX = "application/papermill.record/"  # myst_nb.ext.glue.GLUE_PREFIX
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _restore(value: Any) -> Any:
    """Floats back from the strings record() writes for NaN and infinity."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    return value


MAX_DEPTH = 64
"""Deeper recorded values are kept as text: parsing them would exhaust the stack."""


def _depth(value: Any) -> int:
    """How deeply a decoded value nests lists and dicts (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _bounded(value: Any) -> Any:
    """A decoded value, or a short note in its place when it nests too deeply to keep."""
    if _depth(value) > MAX_DEPTH:
        return f"<a value nested deeper than {MAX_DEPTH} levels>"
    return value


def parse_literal(text: str) -> Any:
    """A value from its text/plain repr, or the text itself if it is no literal."""
    text = text.strip()
    if bracket_depth(text, "[]{}()") > MAX_DEPTH:
        return text  # unparseable as far as claims go: compared as text
    match = _NUMPY_WRAPPER.match(text)  # numpy 2 reprs: np.float64(0.95)
    if match:
        text = match.group(1).strip()
    if text in _NONFINITE:  # glue()'s display of float('nan'), np.float64(inf), ...
        return _NONFINITE[text]
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _value_of(output: Mapping[str, Any]) -> Any:
    data = output.get("data")
    if not isinstance(data, Mapping):
        return _MISSING
    for mime in SCRAP_MIMES:
        if mime in data:
            scrap = data[mime]
            if isinstance(scrap, str):
                if bracket_depth(scrap, "[]{}()") > MAX_DEPTH:
                    return _MISSING  # too deep to parse: no recorded value
                try:
                    scrap = json.loads(scrap)
                except (ValueError, RecursionError):
                    return _MISSING  # a malformed scrap is no recorded value
            if not isinstance(scrap, dict):
                return _bounded(scrap)
            value = _bounded(scrap.get("data"))
            return _restore(value) if scrap.get("nonfinite") else value
    plain = data.get("text/plain")
    if plain is None:  # myst-nb's glue(display=False) prefixes every MIME type
        plain = data.get(GLUE_HIDDEN_PREFIX + "text/plain")
    if isinstance(plain, list) and all(isinstance(p, str) for p in plain):
        plain = "".join(plain)
    return parse_literal(plain) if isinstance(plain, str) else _MISSING


def _scrap_name(output: Any) -> str | None:
    """The name an output records a value under; None for any other shape (it is untrusted)."""
    if not isinstance(output, Mapping):
        return None
    metadata = output.get("metadata")
    scrap = metadata.get("scrapbook") if isinstance(metadata, Mapping) else None
    name = scrap.get("name") if isinstance(scrap, Mapping) else None
    return name if isinstance(name, str) else None


def recorded_values(cells: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every value glued or recorded in the notebook; the last one wins."""
    values: dict[str, Any] = {}
    for cell in cells:
        for output in cell.get("outputs", ()) or ():
            name = _scrap_name(output)
            if name is None:
                continue
            value = _value_of(output)
            if value is not _MISSING:
                values[name] = value
    return values


def claim_values(claims: Iterable[Claim], cells: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Every recorded value, with each output claim's value read from its cell instead (a value
    recorded under an output claim's name never stands in for the output it names)."""
    from codeml_repro.run.batch.outputclaims import output_values

    claims, cells = list(claims), list(cells)
    values = recorded_values(cells)
    for claim in claims:
        if claim.output is not None:
            values.pop(claim.name, None)
    values.update(output_values(claims, cells))
    return values
