"""From a submission folder to a recorded ``Result``, in execution order.

``plan`` (skip key, selection) and ``shards`` decide what runs; ``batch`` and
``pool`` run it; ``repeats`` runs one submission once or N times; ``environment``
builds its uv venv; ``kernel/`` prepares, executes and cleans up one
kernel in the sandbox that ``sandbox/`` builds (bwrap, limits, cgroups, run folder);
``claims`` and ``outcome`` turn what the kernel did into a status;
``status`` answers "what is the state of each submission now". May import
``codeml_repro.results`` and ``codeml_repro.model``, never the book or the CLI.
"""
