"""A stop signal turned into an exception that is never lost where it lands.

Python runs a signal handler in the main thread between two bytecodes, wherever those are. When
they belong to a weakref callback, a ``__del__`` or a garbage-collector callback (an import that
drops a module's temporary objects, say), the handler's exception cannot leave that frame: Python
prints "Exception ignored in ..." with a traceback and carries on. A SIGTERM sent to stop a run was
then lost: a pool worker stopped during an import ran on until the runner killed it, and the
cancelled command printed a traceback (about one cancelled run in a dozen).

:func:`raise_on` raises the handler's exception as before, and a ``sys.unraisablehook`` sends the
same signal to the main thread again when Python reports that exception as ignored. It lands again
at the next bytecode, now in ordinary code, where ``finally`` blocks and context managers clean up.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

RESEND_AFTER = 0.05
"""Seconds before a lost stop signal is sent again: time for the main thread to leave the callback."""

_MARK = "codeml_stop_signal"
"""Attribute set on each exception a stop handler raises: the signal to send again if it is lost."""


def raise_on(signum: int, make: Callable[[int], BaseException]) -> None:
    """From now on, ``signum`` raises ``make(signum)`` in the main thread, sent again if ignored."""

    def handler(received: int, _frame: FrameType | None) -> None:
        exc = make(received)
        setattr(exc, _MARK, received)
        raise exc

    signal.signal(signum, handler)
    _install_hook()


def _install_hook() -> None:
    """Chain :func:`_resend_lost_stop` in front of the current unraisable hook, once."""
    current = sys.unraisablehook
    if getattr(current, _MARK, False):
        return

    def hook(unraisable: Any) -> None:
        if not _resend_lost_stop(unraisable.exc_value):
            current(unraisable)

    setattr(hook, _MARK, True)
    sys.unraisablehook = hook


def _resend_lost_stop(exc: BaseException | None) -> bool:
    """Send the stop signal that raised ``exc`` again, shortly, from a timer thread; False if ``exc``
    is not one.

    Not at once: the hook runs in the main thread, which would handle the signal at its next call,
    inside the hook, where Python ignores the exception again. The timer sends it once the main
    thread has left the callback, aimed at the main thread (``pthread_kill``): a signal sent to the
    process may reach any thread, and only one that reaches the main thread interrupts a call it
    is blocked in. Landing in another callback, it is lost and sent again the same way.
    """
    signum = getattr(exc, _MARK, None)
    if not isinstance(signum, int):
        return False
    main = threading.main_thread().ident
    if main is not None:
        timer = threading.Timer(RESEND_AFTER, signal.pthread_kill, args=(main, signum))
        timer.daemon = True
        timer.start()
    return True
