"""Organizers' tools: ``init`` (a new workshop's site), ``import openreview``, ``review`` and
``edition close``.

Run by a workshop's organizers on its repository, never by authors, so they live apart from
:mod:`codeml_repro.authoring`, whose helpers work on one submission on an author's machine.
``newsite`` writes a new site from ``site_template/`` (package data), with an example submission
made by the authors' own scaffold. May import ``authoring``, ``results`` and ``model``; never the
runner or the book.

- ``newsite``: ``codeml-repro init``: a new workshop's site from ``site_template/``
- ``openreview``: an OpenReview export (API v1 or v2) read into plain records
- ``importer``: ``codeml-repro import openreview``: ``submissions/<slug>/`` from those records
- ``review``: organizers' reviews in ``reviews/<slug>.yml``
- ``editions``: ``codeml-repro edition close YEAR``
"""
