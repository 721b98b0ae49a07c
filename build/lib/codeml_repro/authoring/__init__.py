"""Authors' helpers: ``new`` (the scaffold), ``check`` and the advice it gives.

Works on one submission at a time, on an author's machine. May import
``codeml_repro.run``, ``results`` and ``model``; never the book.
"""
