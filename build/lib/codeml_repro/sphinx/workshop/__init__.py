"""The workshop part of the book: site data from ``book/_data/*.yml`` and its directives.

Owns the data model of the site (``data``: workshop, dates, schedule, speakers,
organizers, news), the directives that load it and the extension's site setup
(``site``), the blocks they render from it (``blocks``, pure functions of the
data, and ``hero``, the home page's top), the iCalendar export (``calendar``),
the initials avatars (``avatars``) and the theme fixes (``a11y``, ``favicon``,
``pagepolicy``). May import ``codeml_repro.model`` and the shared helpers of
``codeml_repro.sphinx``; never the poster part.
"""
