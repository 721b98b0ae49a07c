"""The plan stage: what a run is responsible for, before anything runs, and each submission's state.

Which folders a run owns and their skip keys, the split over CI shards, whether this machine has
what a submission needs, the status query, and the ``Result`` of every kind of outcome. Cheap:
checking 100 unchanged submissions loads YAML and hashes files. Modules: ``hardware``, ``outcome``,
``planning``, ``shards``, ``status``. May import ``kernel/``, ``sandbox/``, ``inputs/``, ``env/``
(the stages below it), ``codeml_repro.results`` and ``codeml_repro.model``; never ``batch/`` or
``matrix/``, which drive it, nor the book or the CLI.
"""
