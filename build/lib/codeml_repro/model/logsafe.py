"""Author text made safe to print where a CI log reads it.

GitHub Actions treats any log line that starts with ``::`` as a workflow
command (``::add-mask::``, ``::error file=...::``, ``::stop-commands::``).
Text an author controls (a YAML key, a folder name, a kernel's error message)
is printed on one line with its control characters escaped, and a line that
would still start with ``::`` gets a visible prefix.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": " "}
    return named.get(char, f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def log_line(text: object) -> str:
    """``text`` as one printable line that no CI log can read as a workflow command."""
    line = _CONTROL.sub(_escape, str(text))
    if line.lstrip().startswith("::"):
        line = "(text) " + line
    return line
