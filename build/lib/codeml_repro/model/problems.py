"""pydantic errors as one line a person can act on: where, what, and a hint.

Shared by submission.yml and the book's data files, so both speak alike.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from codeml_repro.model.logsafe import log_line


def _location(loc: tuple[int | str, ...]) -> str:
    """``('speakers', 2, 'visibel')`` -> ``speakers[2].visibel``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not text:
            text = part
        elif not part.startswith(("function-", "constrained-")):
            text += f".{part}"
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that owns the last key of ``loc`` (for 'did you mean')."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return current


def _problem(model: type[BaseModel], error: Any) -> str:
    """One short sentence for one pydantic error."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        known = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
        return "unknown key" + hint
    if kind == "missing":
        return "missing (required)"
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if kind != "value_error" and not isinstance(given, dict | list):
        message += f" (got {given!r:.60})"
    return message


def first_problem(model: type[BaseModel], exc: ValidationError) -> tuple[str, str]:
    """(field path, problem) of the error worth reporting first.

    A misspelt key shows up twice (unknown key, and the real key missing):
    the unknown key is reported, since its 'did you mean' names the fix.
    """
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    return _location(tuple(error["loc"])), _problem(model, error)


def file_problem(path: object, model: type[BaseModel], exc: ValidationError) -> str:
    """The first problem as the one line a reader of an author's file raises: 'file: field: problem'."""
    where, problem = first_problem(model, exc)
    return log_line(f"{path}: {where or '(top level)'}: {problem}")
