"""What runs leave behind: the atomic store and history, the merge of CI shards, badges.

Owns ``results/`` (``<slug>.json``, ``history/``, ``notebooks/``) and the one
colour palette every badge is drawn with. May import ``codeml_repro.model``
only: reading results never starts a kernel.
"""
