"""What people and the tool write down; nothing here executes anything.

Owns the ``Submission`` loaded from ``submission.yml`` and its notebook checks,
the ``RunPolicy`` (budgets and isolation), the ``Result`` and its JSON, the
JSON Schema, the exception root ``ReproError`` and the one-line formatting of
pydantic errors. May import only the standard library, pydantic and YAML:
it is the bottom layer.
"""
