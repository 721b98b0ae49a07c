"""The matrix stage: a submission run on several releases of a library, one run per cell.

Its entries as the exact releases they install (the maintainer's version index), the cells planned
and added up, and ``latest`` asked again for an unchanged submission. Modules: ``cellruns``,
``latest``, ``pins``, ``versions``. May import ``plan/``, ``kernel/``, ``sandbox/``, ``inputs/``,
``env/`` (the stages below it), ``codeml_repro.results`` and ``codeml_repro.model``; never
``batch/``, which drive it, nor the book or the CLI.
"""
