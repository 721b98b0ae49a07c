"""Profiles: named variants of a run, e.g. a quick ``smoke`` run for pull requests.

A profile overrides ``parameters`` (merged over the top-level ones),
``resources`` (the fields it sets) and ``claims`` (replaced when it declares
its own). The top-level values are the ``full`` profile. Applying a profile
gives a :class:`~codeml_repro.model.submission.Submission` whose spec holds the
profile's values, so every later stage (parameters, budgets, claims) reads the
spec as it always did.

Only ``full`` can earn ``reproduced`` unless the profile declares its own
claims: a smoke run with one epoch proves the notebook runs, not the paper's
numbers, so it checks no claim and is ``functional`` at best.
"""

from __future__ import annotations

import dataclasses

from codeml_repro.model.artifact import FULL_PROFILE
from codeml_repro.model.submission import Submission


def apply_profile(sub: Submission, name: str) -> Submission:
    """``sub`` with profile ``name`` applied; a submission without that profile runs ``full``.

    Falling back lets one ``run --profile smoke`` cover a batch in which only some
    submissions have a smoke variant; the result records the profile that ran.
    """
    profile = sub.spec.artifact.profiles.get(name)
    if name == FULL_PROFILE or profile is None:
        return dataclasses.replace(sub, profile=FULL_PROFILE)
    artifact = sub.spec.artifact
    resources = artifact.resources.overridden(profile.resources)
    new_artifact = artifact.model_copy(
        update={
            "parameters": {**artifact.parameters, **profile.parameters},
            "resources": resources,
            "timeout": resources.timeout,
        }
    )
    claims = profile.claims if profile.claims is not None else []
    spec = sub.spec.model_copy(update={"artifact": new_artifact, "claims": claims})
    return dataclasses.replace(sub, spec=spec, profile=name)
