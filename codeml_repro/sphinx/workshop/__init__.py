"""The workshop part of the book: site data from ``book/_data/*.yml`` and its directives.

Owns the data model of the site (workshop, dates, schedule, speakers,
organizers, news), the directives that render it, the iCalendar export, the
initials avatars and the theme fixes. May import ``codeml_repro.model`` and
the shared helpers of ``codeml_repro.sphinx``; never the poster part.
"""
