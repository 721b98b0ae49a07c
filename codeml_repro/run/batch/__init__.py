"""The batch stage: many runs, through the worker pool, and what each run came to.

The batch and its report, the worker pool, one submission once or ``--repeat N`` times, the values a
notebook recorded and the claims compared with them, a result's notes, the progress shown; and the
commands over many submissions that run or build (bisect, env build). Modules: ``bisect``,
``claims``, ``outputclaims``, ``pool``, ``prebuild``, ``progress``, ``recorded``, ``repeats``,
``runall``, ``runnotes``, ``stopsignals``. May import ``matrix/``, ``plan/``, ``kernel/``,
``sandbox/``, ``inputs/``, ``env/`` (the stages below it), ``codeml_repro.results`` and
``codeml_repro.model``; never the book or the CLI.
"""
