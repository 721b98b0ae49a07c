"""One kernel's life: prepared, sandboxed, executed under budgets, cleaned up.

``prepare`` (scratch folders, environment, launch command, possibly ahead of
time), ``scratch`` (the run's folders and their clean-up), ``sandbox`` (bwrap
and limits), ``client`` (the papermill/nbclient engine with its budgets),
``execute`` (the pipeline that ties them together and classifies the outcome)
and ``kernel_log`` (what a dead kernel said). May import the rest of
``codeml_repro.run`` below it (``environment``), ``results`` and ``model``.
"""
