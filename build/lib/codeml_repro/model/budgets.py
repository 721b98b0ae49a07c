"""Default budgets as plain numbers, importable without pydantic or YAML.

The CLI shows them in ``--help`` and must stay cheap to import;
:class:`~codeml_repro.model.policy.RunPolicy` validates them once at run time.
"""

from __future__ import annotations

TIMEOUT_S = 600.0
"""Whole-run wall-clock budget of one notebook, when the author sets none."""
MAX_TIMEOUT_S = 1800
"""The most an author may ask for with ``artifact.timeout``."""
CELL_TIMEOUT_S = 300.0
"""Per-cell budget."""
MAX_OUTPUT_BYTES = 10_000_000
"""Cap on all outputs of a run; the kernel is stopped past it."""
MEMORY_BYTES = 4 * 1024**3
"""Memory of a run."""
MAX_PROCESSES = 256
"""Processes in one sandbox."""
MAX_FILE_BYTES = 100 * 1024**2
"""Largest file a notebook may write."""
CPU_SECONDS = 3600
"""CPU time of the kernel."""
SCRATCH_BYTES = 1024**3
"""What a notebook may write in its run folder, all files together (beyond the submission's own)."""
SCRATCH_FILES = 50_000
"""Files (inodes: folders and links too) a notebook may add to its run folder."""
FETCH_TIMEOUT_S = 600.0
"""The whole fetch stage of a batch (artifact.data); inputs unfinished then fail."""
FETCH_MIN_RATE = 10_000
"""Bytes per second an input must average over FETCH_RATE_WINDOW_S (a trickling server fails)."""
FETCH_RATE_WINDOW_S = 30.0
"""The window of the rate rule."""
CACHE_BYTES = 20 * 1024**3
"""Bytes one batch may add to the shared data cache."""
