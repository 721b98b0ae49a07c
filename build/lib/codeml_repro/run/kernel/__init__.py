"""One kernel's life: prepared, started in its sandbox, executed under budgets, cleaned up.

``prepare`` (run folder, environment, launch command, possibly ahead of time),
``manager`` (the run's kernelspec, naming the ``codeml-sandbox`` provisioner,
and jupyter_client's kernel manager for it), ``client`` and ``engine`` (the
papermill engine and nbclient client, through their public hooks, with budgets),
``channels``/``wire``/``messages`` (what is read off the kernel's sockets),
``conventions`` (raises-exception, allow_errors, timeouts), ``execute`` (the
pipeline that ties them together and classifies the outcome), ``foreign`` (a
kernel for another language, as the maintainer configured it), ``shellstatus``
(the exit status of a cell's shell commands), ``usage`` (peak memory, CPU time
and each cell's time), ``hostpaths`` (no host path in what a result says),
``kernel_log`` (what a dead kernel said) and ``installed`` (the same sandbox as
a Jupyter kernel an author installs). The sandbox itself (bwrap, limits,
cgroups, the run folder, the provisioner) is ``codeml_repro.run.sandbox``, below
this package. May import the stages below it (``sandbox/``, ``inputs/``,
``env/``), ``results`` and ``model``; never ``plan/``, ``matrix/`` or
``batch/``, which drive it.
"""
