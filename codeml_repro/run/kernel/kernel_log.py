"""What a dead kernel left behind: its exit status in words, and the helpful end of its log.

The kernel's stdout and stderr go to ``kernel.log`` in its run dir (see
:mod:`codeml_repro.run.sandbox.provisioner`); a crash report is there
because the shim's ``sitecustomize`` turns on :mod:`faulthandler`.
"""

from __future__ import annotations

import contextlib
import re
import signal
from pathlib import Path

from codeml_repro.model.text import shorten

# ipykernel's start-up notice (printed when it has no terminal), and ipykernel 6's warning that
# it has no debugger (the runner's launcher keeps debugpy out: run/sandbox/launch.py): noise
_BANNER = re.compile(
    r"^(NOTE: When using the `ipython kernel`|To exit, you will have to|\"quit\" from a client|"
    r"To read more about this|https://github.com/ipython/ipython/issues/2049|"
    r"To connect another client|\s*--existing |"
    r"\[IPKernelApp\] WARNING \| debugpy_stream undefined, debugging will not be enabled$)"
)
_FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>.+)$')
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b:?")
BWRAP_ERROR = re.compile(r"^bwrap: ", re.M)  # bwrap could not set up the sandbox


def signal_name(code: int | None, sandboxed: bool) -> str:
    """The kernel's exit status in words (bwrap reports a signal as 128 + its number)."""
    if code is None:
        return "the kernel process died"
    signum = -code if code < 0 else (code - 128 if sandboxed and code > 128 else 0)
    if signum > 0:
        with contextlib.suppress(ValueError):
            return f"the kernel process was killed by signal {signum} ({signal.Signals(signum).name})"
    return f"the kernel process exited with code {code}"


def read_log(path: Path, *, max_bytes: int = 32768) -> str:
    """The last ``max_bytes`` of a log ("" when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def kernel_log_tail(path: Path, *, max_chars: int = 400) -> str:
    """The helpful end of a kernel's stderr: a fatal error with where it happened, the last
    exception line, or else the last two lines; ipykernel's start-up notice is left out."""
    text = read_log(path)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _BANNER.search(ln)]
    fatal = [i for i, ln in enumerate(lines) if ln.startswith("Fatal Python error")]
    if fatal:
        picked = [lines[fatal[-1]], *_crash_frames(lines[fatal[-1] + 1 :])]
    else:
        picked = [ln for ln in lines if _EXC_LINE.match(ln)][-1:] or lines[-2:]
    return shorten(" | ".join(shorten(ln, 200) for ln in picked), max_chars)


def _crash_frames(lines: list[str]) -> list[str]:
    """From a faulthandler dump: the crashing thread's innermost frame and the notebook cell's."""
    current = next((i for i, ln in enumerate(lines) if ln.startswith("Current thread")), None)
    frames = [_FRAME.match(ln) for ln in lines[current + 1 :]] if current is not None else []
    found = [m for m in frames if m]
    cell = next((m for m in found if "/ipykernel_" in m["file"]), None)
    out = []
    for m in (found[0] if found else None, cell):
        if m is not None:
            name = "<cell>" if m is cell else "/".join(Path(m["file"]).parts[-2:])
            out.append(f"{name}, line {m['line']} in {m['func']}")
    return list(dict.fromkeys(out))
