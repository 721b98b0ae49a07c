"""The JSON Schema of ``submission.yml``, for editors and for ``codeml-repro schema``.

Generated from the pydantic model, so the schema and the validator cannot
disagree; this module only adds what the model leaves implicit: the schema's
identity, a description for every field, and the URL pattern the validators
enforce. The committed copy is ``submission.schema.json`` at the repository
root (``codeml-repro schema --write``); the template that ``codeml-repro new``
writes points editors at it.
"""

from __future__ import annotations

import json
from typing import Any

from codeml_repro.model.budgets import MAX_TIMEOUT_S
from codeml_repro.model.fields import URL_RE
from codeml_repro.model.submission import SubmissionSpec

SCHEMA_FILE = "submission.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:codeml-repro:submission-schema:1"
SCHEMA_TITLE = "A submission (submission.yml) of a workshop run with codeml-repro"  # no workshop's name

_TOP_DESCRIPTIONS = {
    "title": "The paper's title, as on OpenReview.",
    "authors": "Everyone on the paper, in order.",
    "abstract": "A short plain-text abstract, shown on the poster page.",
    "links": "Optional links to the paper, code, video and poster.",
    "session": "The session the poster is presented in (set by the organizers).",
    "artifact": "The notebook that backs the paper's numbers, and how to run it.",
    "claims": (
        "Numbers the paper reports that the notebook records (or prints: output); each is checked "
        "against the recorded value within its tolerance."
    ),
}
_URL_FIELDS = {
    ("Author", "url"),
    ("Links", "openreview"),
    ("Links", "pdf"),
    ("Links", "code"),
    ("Links", "video"),
    ("Links", "poster"),
}
_DESCRIPTION = (
    "One accepted submission: submissions/<slug>/submission.yml, where <slug> is "
    f"lowercase letters, digits and '-'. The artifact notebook runs with papermill under "
    f"budgets (artifact.timeout at most {MAX_TIMEOUT_S} s) and every claim is compared "
    "with the value the notebook records under the claim's name."
)


def _add_url_patterns(defs: dict[str, Any]) -> None:
    for model, field in _URL_FIELDS:
        prop = defs[model]["properties"][field]
        for branch in prop.get("anyOf", [prop]):
            if branch.get("type") == "string":
                branch["pattern"] = URL_RE.pattern
                branch["format"] = "uri"


def submission_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that ``submission.yml`` must satisfy."""
    generated = SubmissionSpec.model_json_schema()
    for name, prop in generated["properties"].items():
        if "description" not in prop and name in _TOP_DESCRIPTIONS:
            prop["description"] = _TOP_DESCRIPTIONS[name]
    _add_url_patterns(generated["$defs"])
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        **generated,
        "title": SCHEMA_TITLE,
        "description": _DESCRIPTION,
    }


def schema_text() -> str:
    """The schema exactly as ``codeml-repro schema`` prints and writes it."""
    return json.dumps(submission_schema(), indent=2) + "\n"
