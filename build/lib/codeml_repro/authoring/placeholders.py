"""The scaffold's placeholder text, recognised so ``check`` does not call a template ready.

``codeml-repro new`` writes a submission that runs to ``reproduced`` as it is;
without this check an author could open a pull request whose poster is titled
"The title of your paper".
"""

from __future__ import annotations

from codeml_repro.model.submission import SubmissionSpec

PLACEHOLDER_TITLE = "The title of your paper"
PLACEHOLDER_AUTHOR = "First Author"
PLACEHOLDER_ABSTRACT = "Replace this with the abstract of your paper."


def placeholder_fields(spec: SubmissionSpec) -> list[str]:
    """The fields of submission.yml still holding the template's text, in file order."""
    fields = []
    if spec.title.strip() == PLACEHOLDER_TITLE:
        fields.append("title")
    if any(a.name.strip() == PLACEHOLDER_AUTHOR for a in spec.authors):
        fields.append("authors")
    if spec.abstract.strip() == PLACEHOLDER_ABSTRACT:
        fields.append("abstract")
    return fields
