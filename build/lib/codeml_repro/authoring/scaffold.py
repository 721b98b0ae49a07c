"""``codeml-repro new SLUG``: a submission folder an author can start from.

The folder it writes is a complete, valid submission that runs to
``reproduced`` as it is: a commented ``submission.yml`` that points editors at
the JSON Schema, and an artifact notebook with a tagged parameters cell, a
small seeded computation and a ``record(...)`` call matching the template's
claim. Authors replace the example with their own work, one piece at a time,
and run ``codeml-repro check`` after each change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from codeml_repro.model.budgets import MAX_TIMEOUT_S
from codeml_repro.model.editions import submission_bases
from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.policy import RunPolicy
from codeml_repro.model.schema import SCHEMA_FILE
from codeml_repro.model.submission import SUBMISSION_FILE, check_slug

NOTEBOOK_FILE = "artifact.ipynb"
REQUIREMENTS_FILE = "requirements.txt"
EXAMPLE_CLAIM = "pi_estimate"

_SUBMISSION_TEMPLATE = """\
# yaml-language-server: $schema=../../{schema}
#
# The description of your submission. Every field is explained in the
# authors' guide ("For authors" in the workshop book) and in {schema}:
# editors with a YAML language server complete and check this file.
# Check your submission exactly as CI will:
#
#     codeml-repro check submissions/{slug}

# The paper's title, as on OpenReview.
title: "The title of your paper"

# Everyone on the paper, in order; affiliation and url are optional.
authors:
  - name: "First Author"
    affiliation: "University or company"
    # url: "https://example.org/~first-author"

# One plain-text paragraph, shown on your poster page.
abstract: >-
  Replace this with the abstract of your paper.

# Optional links; each must be an http:// or https:// URL.
# links:
#   openreview: "https://openreview.net/forum?id=XXXXXXXX"
#   pdf: "https://openreview.net/pdf?id=XXXXXXXX"
#   code: "https://github.com/you/your-code"
#   video: "https://example.org/your-talk"
#   poster: "https://example.org/your-poster.pdf"

# The poster session; the organizers fill this in.
# session: "Poster session"

artifact:
  # The notebook to run, relative to this folder.
  notebook: {notebook}
  # Values papermill injects into the notebook's cell tagged "parameters".
  parameters:
    n_samples: 20000
    seed: 0
  # A pip requirements file: the notebook then runs in its own environment.
  # requirements: {requirements}
  # The environment's era: every requirement not pinned exactly (and the
  # kernel's own packages) resolves as of this date, years from now too.
  environment:
    as_of: "{today}"
    # python: "3.11"   # an interpreter version the CI host has
  # Data and model weights the notebook reads that are not in this folder:
  # fetched and checked against their sha256 (`codeml-repro hash FILE`) before
  # the run, then given to the notebook read-only at `path` (it has no network).
  # data:
  #   - {{url: "https://example.org/train.csv", sha256: "<64 hex>", path: data/train.csv}}
  #   - {{doi: "10.5281/zenodo.3939050", file: tiny-data.txt, sha256: "<64 hex>", path: data/tiny.txt}}
  #   - {{hf: {{repo: org/model, revision: "<40-hex commit>", files: ["*.json", "*.safetensors"]}}}}
  # What one run needs. A runner without the GPU (or with less memory) records
  # "skipped" (shown as "not checked here: needs a GPU"), never a failure.
  # timeout: whole-run seconds (default {timeout}, at most {max_timeout}).
  # resources: {{gpu: 0, memory_gb: 4, cpus: 2, timeout: {timeout}}}
  # A quick variant for pull requests (`codeml-repro run --profile smoke`): it
  # overrides parameters, resources and claims; without claims of its own it
  # cannot earn Results Reproduced.
  # profiles:
  #   smoke: {{parameters: {{n_samples: 500}}, resources: {{timeout: 120}}, claims: []}}

# The numbers your paper reports. The notebook records each one under the
# same name with record("{claim}", value); the check compares the recorded
# value with `expected` within rel_tol (relative) and/or abs_tol (absolute).
# Without a tolerance the comparison is exact.
claims:
  - name: {claim}
    expected: 3.14
    rel_tol: 0.01
    # abs_tol: 0.005
    description: "Table 1: Monte Carlo estimate of pi"
"""

_REQUIREMENTS_TEMPLATE = """\
# Packages your notebook needs, in pip's format, one per line, with versions
# pinned so the run is the same next year. When this file exists the notebook
# runs in its own environment built from it (ipykernel is added for you).
# Delete this file if the notebook needs only the standard library and the
# packages of the base environment (numpy, scipy, pandas, matplotlib, scikit-learn).
#
# numpy==2.1.3
# scikit-learn==1.5.2
"""

_INTRO = """\
# Artifact: {slug}

This notebook backs the numbers of your paper. It runs top to bottom, with no
network and no input, under a time budget (see the authors' guide).

1. The next cell is tagged `parameters`: papermill replaces its values with
   `artifact.parameters` from `submission.yml`.
2. Compute what your paper reports.
3. Record each number with `record(name, value)`, using the `name` of a claim
   in `submission.yml`. `codeml-repro check submissions/{slug}` compares them.
"""

_PARAMETERS = """\
# Parameters: papermill overrides these with artifact.parameters.
n_samples = 20_000
seed = 0"""

_COMPUTE = """\
import random

# Seed every source of randomness, so every run gives the same numbers.
rng = random.Random(seed)
inside = sum(1 for _ in range(n_samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
pi_estimate = 4 * inside / n_samples
print(f"pi is about {pi_estimate}")"""

_RECORD = """\
from codeml_repro import record

# The name must match a claim's `name` in submission.yml.
record("pi_estimate", pi_estimate)"""


def _render_notebook(slug: str) -> str:
    import nbformat
    from nbformat import v4

    params = v4.new_code_cell(_PARAMETERS, metadata={"tags": ["parameters"]})
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell(_INTRO.format(slug=slug)),
            params,
            v4.new_code_cell(_COMPUTE),
            v4.new_code_cell(_RECORD),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return str(nbformat.writes(nb)) + "\n"


def render_submission(slug: str) -> str:
    """The text of the template ``submission.yml`` for ``slug``."""
    policy = RunPolicy()
    return _SUBMISSION_TEMPLATE.format(
        schema=SCHEMA_FILE,
        slug=slug,
        notebook=NOTEBOOK_FILE,
        requirements=REQUIREMENTS_FILE,
        claim=EXAMPLE_CLAIM,
        timeout=f"{policy.timeout_s:g}",
        max_timeout=MAX_TIMEOUT_S,
        today=datetime.now(timezone.utc).date().isoformat(),
    )


def new_submission(root: Path, slug: str, *, requirements: bool = False) -> Path:
    """Create ``root/submissions/SLUG/`` from the template; return the folder.

    ``requirements=True`` also writes a commented ``requirements.txt``. It is
    off by default because any ``requirements.txt`` makes the notebook run in
    an environment of its own, which needs a package index to build.
    Raises :class:`SubmissionInvalid` for a malformed slug or an existing folder.
    """
    check_slug(slug)
    folder = root / "submissions" / slug
    past = [base / slug for year, base in submission_bases(root) if year is not None]
    if any(p.exists() for p in past):  # results are kept by slug across editions
        used = next(p for p in past if p.exists())
        raise SubmissionInvalid(f"{folder}: slug '{slug}' is used by a past edition ({used}); pick another")
    if folder.exists():
        raise SubmissionInvalid(
            f"{folder}: already exists; pick another slug or edit that submission "
            f"and run 'codeml-repro check {folder}'"
        )
    files = {
        SUBMISSION_FILE: render_submission(slug),
        NOTEBOOK_FILE: _render_notebook(slug),
    }
    if requirements:
        files[REQUIREMENTS_FILE] = _REQUIREMENTS_TEMPLATE
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
    except FileExistsError:
        raise SubmissionInvalid(f"{folder}: already exists; pick another slug") from None
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
