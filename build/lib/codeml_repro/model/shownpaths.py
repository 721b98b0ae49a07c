"""Paths as published text shows them: relative to the project root, never the host's layout.

An ``invalid`` result's error, the problems the store reports and the dashboard's notes
name files (``/home/runner/work/repo/repo/submissions/x/submission.yml: title: ...``).
They are published, so they read ``submissions/x/submission.yml: ...`` instead, as an
author sees the file in the repository. (Run-time paths of a kernel are the sandbox's
business: see ``run/kernel/hostpaths.py``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from codeml_repro.model.editions import EDITIONS_DIR


def project_root(folder: Path) -> Path:
    """The root of a submission folder: above ``submissions/``, or above ``editions/<year>/``."""
    parts = folder.parts
    if len(parts) >= 4 and parts[-2] == "submissions" and parts[-4] == EDITIONS_DIR:
        return folder.parents[3]
    if len(parts) >= 2 and parts[-2] == "submissions":
        return folder.parents[1]
    return folder.parent


def from_root(text: str, root: Path) -> str:
    """``text`` with every absolute path under ``root`` written relative to it."""
    prefixes = {str(root.absolute()), str(root.resolve())}
    for prefix in sorted((p for p in prefixes if len(p) > 1), key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")
    return text


def scrub_prefixes(text: str, pairs: list[tuple[str, str]]) -> str:
    """``text`` with each host ``prefix`` replaced by how it is ``shown``, longest prefix first,
    also where a tool quotes it as a URL (uv and pip write ``file:///tmp/x/submissions/a/pkg``)."""
    for prefix, shown in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
        if len(prefix) > 1:
            text = text.replace("file://" + prefix, shown).replace(prefix, shown)
    return text
