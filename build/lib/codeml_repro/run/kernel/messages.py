"""Output messages from a kernel, made well-formed before nbclient turns them into outputs.

The kernel runs the author's code, so its iopub messages are untrusted: a
``display_data`` whose metadata is a list, or whose ``data`` holds a number,
would make nbclient (or nbformat's validation when the notebook is saved)
raise, and that exception would end the run as the *tool's* failure. Here
every field nbformat's output schema requires is coerced to its type; what
cannot be kept is dropped, and the output says so. A value that is merely odd
(``scrapbook`` metadata that is a string) is kept: the claims parser treats it
as no recorded value.
"""

from __future__ import annotations

from typing import Any

DROPPED = "[codeml-repro: a malformed output was dropped: {what}]\n"


def _text(value: Any) -> str | None:
    """A multi-line string as nbformat holds it (str or list of str), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _mime_bundle(value: Any, problems: list[str]) -> dict[str, Any]:
    """``data``: str keys; text values (or JSON objects/lists for ``*json`` types)."""
    if not isinstance(value, dict):
        problems.append("data is not a mapping")
        return {}
    bundle: dict[str, Any] = {}
    for mime, body in value.items():
        if not isinstance(mime, str):
            problems.append("a MIME type is not text")
            continue
        if mime.endswith("json") and isinstance(body, dict | list):
            bundle[mime] = body
            continue
        text = _text(body)
        if text is None:
            problems.append(f"{mime!r} is not text")
            continue
        bundle[mime] = text
    return bundle


def _mapping(content: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = content.get(key, {})
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    problems.append(f"{key} is not a mapping")
    return {}


def _display(content: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    fixed = dict(content)
    fixed["data"] = _mime_bundle(content.get("data"), problems)
    fixed["metadata"] = _mapping(content, "metadata", problems)
    fixed["transient"] = _mapping(content, "transient", problems)
    return fixed


def _stream(content: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    name, text = content.get("name"), _text(content.get("text"))
    if name not in ("stdout", "stderr"):
        problems.append("stream name is not stdout or stderr")
        name = "stderr"
    if text is None:
        problems.append("stream text is not text")
        text = ""
    return {**content, "name": name, "text": text}


def _error(content: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    fixed = dict(content)
    for key, stand_in in (("ename", "MalformedError"), ("evalue", "")):
        if not isinstance(content.get(key), str):
            problems.append(f"error {key} is not text")
            fixed[key] = stand_in
    trace = content.get("traceback", [])
    if not (isinstance(trace, list) and all(isinstance(t, str) for t in trace)):
        problems.append("error traceback is not a list of text")
        fixed["traceback"] = []
    return fixed


def well_formed(msg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The message with a content nbclient and nbformat accept, and what had to be dropped."""
    kind = msg.get("msg_type") or (msg.get("header") or {}).get("msg_type")
    content = msg.get("content")
    problems: list[str] = []
    if not isinstance(content, dict):
        problems.append("content is not a mapping")
        content = {}
    if kind in ("display_data", "update_display_data", "execute_result"):
        content = _display(content, problems)
        if kind == "execute_result" and not isinstance(content.get("execution_count"), int | None):
            problems.append("execution_count is not a number")
            content["execution_count"] = None
        content.setdefault("execution_count", None)
    elif kind == "stream":
        content = _stream(content, problems)
    elif kind == "error":
        content = _error(content, problems)
    else:
        return msg, []
    return {**msg, "content": content}, problems


def dropped_note(problems: list[str]) -> str:
    """The stderr line an output gets in place of what was dropped from it."""
    return DROPPED.format(what="; ".join(dict.fromkeys(problems)))
