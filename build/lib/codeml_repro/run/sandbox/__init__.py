"""Where a kernel runs: the host resources one run owns, isolated and bounded.

``bwrap`` (the isolation arguments and whether this host's bwrap applies them),
``launch`` (the one place the kernel's command and environment are assembled:
rlimits, cgroup join, scratch tmpfs set-up, privilege drop), ``provisioner``
(the ``codeml-sandbox`` jupyter_client kernel provisioner that launches it and
ends every process of the run), ``rundir`` (the
run's folder and the ``record()`` shim), ``reaping`` (ending every process of a
run), ``stale`` (clean-up after killed runners), ``scratchfs`` and
``scratchfs_inside`` (the run folder's disk budget), ``cgroups`` and
``delegation`` (one control group per run), ``privileges`` and ``runuid`` (a
root runner's kernel is not root, and has a uid of its own), ``gpu`` (GPUs
found and bound into the sandbox), ``downloads``, ``proxy_inside``, ``certs`` and
``recorder`` (declared URLs answered offline by a proxy in the sandbox; inputs placed in a
library's cache; ``check --record-downloads``). Knows nothing of Jupyter messages or
notebooks: it never imports ``codeml_repro.run.kernel``, which drives it.
May import the stages below it (``inputs/``: the verified data cache; ``env/``), ``results`` and ``model``.
"""
