"""The env stage: the Python environment a submission's kernel runs in.

uv (its binary, the maintainer's sources, an environment with no secrets), the base environment, one
resolution of a notebook's era, the venvs and what they hold, and the next run's environment built
while a notebook runs. Modules: ``ahead``, ``baseenv``, ``environment``, ``era``, ``lock``,
``uvtool``, ``venvinfo``. May import no other stage (the stages below it), ``codeml_repro.results``
and ``codeml_repro.model``; never ``batch/``, ``matrix/``, ``plan/``, ``kernel/``, ``sandbox/`` or
``inputs/``, which drive it, nor the book or the CLI.
"""
