"""codeml_repro: run a workshop's artifact notebooks, check claims, record badges.

Importing the package is cheap on purpose: it runs inside artifact kernels
(for :func:`record`) and in the skip check of 100 unchanged submissions.
Everything heavy is imported by the module that needs it.
"""

from __future__ import annotations

from codeml_repro.record import record

__all__ = ["__version__", "record"]
__version__ = "0.1.0"
