"""From a submission folder to a recorded ``Result``, in stages, in the order a run goes.

``plan/`` decides what runs (folders, skip keys, shards, hardware) and answers what state each
submission is in; ``env/`` builds the uv environment a kernel runs in; ``inputs/`` fetches every
declared input once per batch; ``matrix/`` turns a matrix submission into one run per cell;
``batch/`` runs them all through the worker pool, once or N times, and compares claims with what
the notebook recorded; ``kernel/`` prepares, executes and cleans up one kernel in the sandbox that
``sandbox/`` builds (bwrap, limits, cgroups, run folder). Each stage's ``__init__`` says what it owns.

A stage imports only the stages below it in this order (pyproject.toml's import-linter contracts):

    ``batch`` -> ``matrix`` -> ``plan`` -> ``kernel`` -> ``sandbox`` -> ``inputs`` -> ``env``

The package may import ``codeml_repro.results`` and ``codeml_repro.model``, never the book or the
CLI.
"""
