"""Building the next submission's environment while the current notebook runs.

Kernel pre-start prepares the next run before the current one executes; when
that run needs a venv that is not built yet, preparing it would hold up the
current notebook for the whole build (4-10 s with a cold cache). Instead
:class:`EnvAhead` builds it in a background thread during the current run,
and the next run is prepared at its own turn, from the finished environment.
The build takes the environment's file lock, so a worker that needs the same
requirements at the same time waits for it and reuses it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from codeml_repro.model.errors import ReproError
from codeml_repro.model.policy import EnvMode, IndexSettings
from codeml_repro.model.submission import Submission
from codeml_repro.run.env.environment import prepare_environment

READY_WAIT_S = 0.5
"""How long a cached environment may take to be found before it counts as being built."""


class EnvAhead:
    """At most one environment build in the background, for the submission that runs next."""

    def __init__(self, mode: EnvMode, *, cache: Path, index: IndexSettings | None = None,
                 offline: bool = False) -> None:
        self.mode = mode
        # the run policy's: the same environment, in the same cache folder, as its turn
        self.cache, self.index, self.offline = cache, index, offline
        self._folder: Path | None = None
        self._thread: threading.Thread | None = None
        self._error: ReproError | None = None

    def start(self, sub: Submission) -> bool:
        """Prepare ``sub``'s environment in the background; True unless it is ready now.

        A cached environment is found within :data:`READY_WAIT_S` (a lock and a
        marker file), so False means it is ready and the kernel can be pre-started.
        Asking :func:`prepare_environment` itself keeps the cache key in one place.
        """
        self.join()
        if self.mode == "current":
            return False  # the toolkit's own interpreter: nothing to build
        self._folder, self._error = sub.folder, None
        # A daemon: an interrupted run exits without waiting for uv (a half-built
        # venv has no completion marker and is rebuilt by the next run).
        self._thread = threading.Thread(target=self._build, args=(sub,), name="codeml-env-ahead", daemon=True)
        self._thread.start()
        self._thread.join(READY_WAIT_S)
        if self._thread.is_alive() or self._error is not None:
            return True  # still building, or failed: its turn waits for it or reports the error
        self._thread, self._folder = None, None
        return False

    def _build(self, sub: Submission) -> None:
        try:
            prepare_environment(sub, self.mode, cache=self.cache, index=self.index, offline=self.offline)
        except ReproError as exc:  # the author's requirements: reported at the submission's turn
            self._error = exc
        except Exception:  # anything else recurs when its run prepares the environment
            pass

    def join(self) -> None:
        """Wait for the build in progress, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wait_for(self, sub: Submission) -> None:
        """Before ``sub`` is prepared: wait for its build; raise the build's error (no second try)."""
        self.join()
        folder, error = self._folder, self._error
        self._folder, self._error = None, None
        if folder == sub.folder and error is not None:
            raise error
