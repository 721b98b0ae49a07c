"""The exit status of a cell's shell commands, as IPython keeps it in ``_exit_code``.

IPython runs ``!cmd`` (and ``%system``, ``%sx`` when it raises on errors) and goes on whatever the
command returned: it only stores the status in the user's ``_exit_code``. The client asks for that
value after every Python cell through the execute request's public ``user_expressions`` (the kernel
evaluates them after the cell, in the user's namespace, and returns them in the reply): nothing is
installed in the kernel, nothing is written to a file, and the notebook's outputs and namespace are
left as they were. The expression cannot raise (a failing one would overwrite ``sys.last_value``).

The notebook controls its kernel, so the reply is untrusted: only a short integer status, and only
for a cell whose source runs a shell command, becomes a warning. A status from an earlier cell is
still there when a later cell's shell command did not run (a branch not taken): that is the one
case where a warning can be wrong. A cell is judged by its last command's status, as ``_exit_code``
is (``!false`` then ``!true`` says nothing); ``%sx`` and ``x = !cmd`` keep no status unless
IPython's ``system_raise_on_error`` is set, and then raise instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from codeml_repro.model.text import cell_source

EXPRESSION_KEY = "codeml_exit_code"
EXPRESSIONS = {EXPRESSION_KEY: "__builtins__.globals().get('_exit_code')"}
"""Evaluated after each cell; ``globals`` via ``__builtins__``, which a notebook's own ``globals``
cannot shadow; ``.get`` never raises for a notebook that ran no shell command."""

_STATUS = re.compile(r"-?[0-9]{1,3}")
_MAX_TEXT = 8  # "-255" is 4 characters: anything longer is not a status
_SHELL_LINE = re.compile(
    r"^[ \t]*(?:[A-Za-z_][A-Za-z0-9_]*[ \t]*=[ \t]*)?(?:!(?!!)|%system\b|%sx\b|!!)[^\n]*$", re.M
)
INSTALL = re.compile(
    r"^[ \t]*(?:![ \t]*|%)(?:(?:(?:python3?(?:\.\d+)?|\{sys\.executable\})[ \t]+-m[ \t]+)?pip3?"
    r"|conda|mamba|uv[ \t]+pip)"
    r"[ \t]+install\b.*$",
    re.M,
)
"""A cell that installs packages: :mod:`codeml_repro.run.batch.runnotes` says why it cannot work here."""


def status_of(reply: Any) -> int | None:
    """The non-zero ``_exit_code`` an execute reply carries, when it is well-formed; else None."""
    content = reply.get("content") if isinstance(reply, Mapping) else None
    expressions = content.get("user_expressions") if isinstance(content, Mapping) else None
    value = expressions.get(EXPRESSION_KEY) if isinstance(expressions, Mapping) else None
    if not isinstance(value, Mapping) or value.get("status") != "ok":
        return None
    data = value.get("data")
    text = data.get("text/plain") if isinstance(data, Mapping) else None
    if not isinstance(text, str) or len(text) > _MAX_TEXT or not _STATUS.fullmatch(text):
        return None
    status = int(text)
    return status if status != 0 and -255 <= status <= 255 else None


def shell_command(cell: Mapping[str, Any]) -> str | None:
    """The first shell command line of a code cell (``!cmd``, ``x = !cmd``, ``%system``, ``%sx``)."""
    if cell.get("cell_type", "code") != "code":
        return None
    found = _SHELL_LINE.search(cell_source(cell.get("source")))
    return found.group(0).strip() if found else None


def status_words(status: int) -> str:
    """How a status reads: IPython gives a signal as its negative number."""
    return f"was ended by signal {-status}" if status < 0 else f"exited with status {status}"
