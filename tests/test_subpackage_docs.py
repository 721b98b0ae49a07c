"""Each stage subpackage of the runner says what it owns: its ``__init__`` docstring names every
module in it (issue 25 found run/kernel's naming 6 of its modules), so a module added without
a word there fails here."""

from __future__ import annotations

import importlib
import pkgutil
import re

import codeml_repro.run


def _stage_packages() -> list[str]:
    """Every subpackage of codeml_repro.run, at any depth."""
    return [info.name for info in pkgutil.walk_packages(codeml_repro.run.__path__, prefix="codeml_repro.run.")
            if info.ispkg]


def _unnamed(package: str) -> list[str]:
    """The modules of ``package`` its docstring does not name (as ``name`` or :mod:`.name`)."""
    pkg = importlib.import_module(package)
    doc = pkg.__doc__ or ""
    modules = [info.name for info in pkgutil.iter_modules(pkg.__path__)]
    return [m for m in modules if not re.search(rf"`\.?{re.escape(m)}`", doc)]


def test_the_kernel_and_sandbox_stages_are_walked() -> None:
    assert {"codeml_repro.run.kernel", "codeml_repro.run.sandbox"} <= set(_stage_packages())


def test_every_stage_docstring_names_each_of_its_modules() -> None:
    missing = {package: names for package in _stage_packages() if (names := _unnamed(package))}
    assert not missing, f"name these modules in their package's __init__ docstring: {missing}"


def test_a_module_left_unnamed_is_found() -> None:
    """The check can fail: a docstring that drops a module's name no longer covers it."""
    pkg = importlib.import_module("codeml_repro.run.kernel")
    doc = pkg.__doc__
    assert doc is not None and "``usage``" in doc
    try:
        pkg.__doc__ = doc.replace("``usage``", "usage")
        assert _unnamed("codeml_repro.run.kernel") == ["usage"]
    finally:
        pkg.__doc__ = doc
