"""A stop signal that lands in a callback, where Python ignores exceptions, still stops the process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

LANDS_IN_A_CALLBACK = """
import os, signal, sys, time, weakref
{install}

class Held:
    pass

def dropped(_ref):  # Python ignores what a weakref callback raises
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(100_000):  # the handler runs here, inside the callback
        pass

held = Held()
ref = weakref.ref(held, dropped)
try:
    del held
    time.sleep(20)
    print("ran on", flush=True)
finally:
    print("cleaned up", flush=True)
"""

WORKER = (
    "from codeml_repro.run.batch.stopsignals import raise_on\n"
    "raise_on(signal.SIGTERM, lambda signum: SystemExit(128 + signum))"
)
CLI = (
    "from codeml_repro.cli.options import terminate_as_interrupt\n"
    "terminate_as_interrupt()\n"
    "sys.excepthook = lambda *_: sys.exit(130)  # the CLI's KeyboardInterrupt: 130"
)


@pytest.mark.parametrize(("install", "code"), [(WORKER, 143), (CLI, 130)], ids=["worker", "cli"])
def test_a_sigterm_ignored_in_a_callback_is_sent_again_and_stops_the_process(
    tmp_path: Path, install: str, code: int
) -> None:
    (tmp_path / "stopped.py").write_text(LANDS_IN_A_CALLBACK.format(install=install))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "stopped"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert time.monotonic() - started < 15, "the stop was lost: the process slept on"
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.split() == ["cleaned", "up"]
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_another_ignored_exception_is_still_reported(tmp_path: Path) -> None:
    """The hook passes on what is not a stop signal: a library's broken ``__del__`` is still shown."""
    script = (
        "import signal\n"
        "from codeml_repro.run.batch.stopsignals import raise_on\n"
        "raise_on(signal.SIGTERM, lambda signum: SystemExit(128 + signum))\n"
        "class Broken:\n"
        "    def __del__(self):\n"
        "        raise ValueError('broken finaliser')\n"
        "Broken()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Exception ignored" in proc.stderr and "ValueError: broken finaliser" in proc.stderr
