"""Kernels for other languages: configured by the maintainer, never chosen by the author.

``CODEML_KERNELS="r=ir,julia=julia-1.9"`` (or ``run --kernel-for r=ir``) maps a notebook
language to a kernelspec installed on the host. A notebook whose language is neither Python nor
configured is invalid; the notebook's own ``kernelspec.name`` never picks a host kernel: only
its language is looked up in this map.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

KERNELS_VAR = "CODEML_KERNELS"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def parse_kernel_map(items: Iterable[str], where: str) -> dict[str, str]:
    """``LANG=KERNELSPEC`` items as ``{lang: kernelspec}``; ``ValueError`` naming ``where`` otherwise."""
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        language, sep, name = (part.strip() for part in item.partition("="))
        if not sep or not _NAME.match(language) or not _NAME.match(name):
            raise ValueError(f"{where}: {item!r} is not LANGUAGE=KERNELSPEC (e.g. r=ir)")
        if language.lower() == "python":
            raise ValueError(f"{where}: {item!r}: Python notebooks always run in their own environment")
        out[language.lower()] = name
    return out


def kernels_from_environ(source: Mapping[str, str]) -> dict[str, str]:
    """The map in ``CODEML_KERNELS`` of ``source`` (comma-separated ``LANG=KERNELSPEC``; unset:
    none); only the CLI hands it the process environment."""
    return parse_kernel_map(source.get(KERNELS_VAR, "").split(","), KERNELS_VAR)


def notebook_language(notebook: Mapping[str, Any]) -> str | None:
    """The language a notebook's metadata declares (kernelspec first), lower case; None if none."""
    meta = notebook.get("metadata") or {}
    for field, key in (("kernelspec", "language"), ("language_info", "name")):
        section = meta.get(field)
        value = section.get(key) if isinstance(section, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None
