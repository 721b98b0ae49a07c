"""The inputs stage: every declared input of a batch, fetched once, verified, ready to mount.

The fetch stage and its sources (cache, mirror, download, Hugging Face Hub, archives unpacked
safely), the guard on its connections, and the content-addressed data cache later stages read.
Modules: ``datacache``, ``fetch``, ``hfhub``, ``netguard``, ``sources``, ``transfer``, ``unpack``.
May import ``env/`` (the stages below it), ``codeml_repro.results`` and ``codeml_repro.model``;
never ``batch/``, ``matrix/``, ``plan/``, ``kernel/`` or ``sandbox/``, which drive it, nor the book
or the CLI.
"""
