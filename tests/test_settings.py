"""One way settings arrive: the CLI reads the environment into the run policy, nothing below it does.

Every setting is a ``RunPolicy`` field (or a parameter handed down) that ``cli/options.py`` fills
from its option or a documented environment variable; the library's defaults never read the
environment, so a test or a caller gets the same run whatever the shell exported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from codeml_repro.model.policy import RunPolicy, default_cache  # bound before conftest sets the session's
from tests.conftest import MakeSubmission

PACKAGE = Path(__file__).resolve().parent.parent / "codeml_repro"
README = PACKAGE.parent / "README.md"

# The environment of processes the toolkit starts, not settings of the toolkit: the kernel's
# (its allow-list, its run marker, Hugging Face's home) and uv's (its interpreter folders).
PROCESS_ENVIRONMENT = {
    "run/sandbox/launch.py", "run/sandbox/reaping.py", "run/inputs/hfhub.py", "run/env/uvtool.py",
    "run/env/lock.py",
}
SETTING = re.compile(r"^(CODEML_[A-Z0-9_]+|CI)$")


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "string"`` assignments (``MIRROR_VAR = "CODEML_DATA_MIRROR"``)."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _key(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, name) of every read of a setting from the process environment in ``source``:
    ``os.environ[...]``, ``os.environ.get(...)``, ``os.getenv(...)``, ``environ.get(...)``, and
    ``x in os.environ``, with the name given literally or as a module constant."""
    tree = ast.parse(source)
    constants = _constants(tree)
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            found.append((node.lineno, _key(node.slice, constants)))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            getenv = isinstance(func, ast.Attribute) and func.attr == "getenv"
            get = isinstance(func, ast.Attribute) and func.attr in {"get", "pop"} and _is_environ(func.value)
            if getenv or get:
                found.append((node.lineno, _key(node.args[0], constants)))
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            found.append((node.lineno, _key(node.left, constants)))
    return [(line, name) for line, name in found if name is not None and SETTING.match(name)]


def test_the_scanner_sees_each_form_of_read() -> None:
    source = (
        "import os\nfrom os import environ\nVAR = 'CODEML_X'\n"
        "a = os.environ.get('CODEML_OFFLINE', '')\nb = os.environ[VAR]\nc = os.getenv('CI')\n"
        "d = environ.get('CODEML_BWRAP')\ne = 'CODEML_Y' in os.environ\nf = os.environ.get('PATH')\n"
        "os.environ['CODEML_RUN_ID'] = 'x'\n"
    )
    assert environment_reads(source) == [
        (4, "CODEML_OFFLINE"), (5, "CODEML_X"), (6, "CI"), (7, "CODEML_BWRAP"), (8, "CODEML_Y")]


def test_nothing_below_the_cli_reads_a_setting_from_the_environment() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/") or relative in PROCESS_ENVIRONMENT:
            continue
        offenders += [f"{relative}:{line}: {name}" for line, name in environment_reads(path.read_text())]
    assert offenders == [], "read it in cli/options.py into a RunPolicy field instead"


def _cli_variables() -> set[str]:
    """The variables the CLI reads: those ``environment_settings`` names (its test below checks
    it reads each), ``CI``, and click's ``envvar=`` options."""
    import inspect

    from codeml_repro.cli.options import environment_settings

    names = set(re.findall(r"\bCODEML_[A-Z0-9_]+\b", inspect.getsource(environment_settings))) | {"CI"}
    for path in (PACKAGE / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        names |= {name for _, name in environment_reads(path.read_text())}
        names |= {  # click's envvar="..."
            kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg == "envvar" and isinstance(kw.value, ast.Constant)
        }
    return names


def test_the_readme_lists_every_variable_the_cli_reads() -> None:
    read = _cli_variables()
    assert {"CI", "CODEML_OFFLINE", "CODEML_BWRAP", "CODEML_PREWARM", "CODEML_DATA_MIRROR"} <= read
    text = README.read_text()
    start = text.index("Environment variables:")
    paragraph = text[start:text.index("\n\n", start)]
    missing = sorted(name for name in read if f"`{name}" not in paragraph)
    assert missing == [], f"README's 'Environment variables:' paragraph lacks {missing}"


def test_the_library_defaults_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"CI": "1", "CODEML_OFFLINE": "1", "CODEML_PREWARM": "0", "CODEML_BWRAP": "",
                        "CODEML_KERNELS": "r=ir", "CODEML_FIND_LINKS": "/w",
                        "CODEML_ALLOW_PRIVATE_URLS": "1", "CODEML_DATA_MIRROR": "https://m.example",
                        "CODEML_CACHE": "/elsewhere/cache"}.items():
        monkeypatch.setenv(name, value)
    policy = RunPolicy()
    assert (policy.sandbox, policy.offline, policy.prestart, policy.bwrap) == ("auto", False, True, None)
    assert policy.kernel_map() == {} and policy.package_sources().is_default
    assert not policy.allow_private_urls and policy.data_mirror is None
    assert policy.cache != Path("/elsewhere/cache")  # the session's (tests/conftest.py), else:
    assert default_cache() == Path.home() / ".cache" / "codeml-repro"
    from codeml_repro.cli.options import environment_policy

    read = environment_policy()  # the CLI reads each into its field
    assert (read.sandbox, read.offline, read.prestart, read.bwrap) == ("required", True, False, "")
    assert read.kernel_map() == {"r": "ir"} and read.package_sources().find_links == "/w"
    assert read.allow_private_urls and read.data_mirror == "https://m.example"
    assert read.cache == Path("/elsewhere/cache")  # where results come from, not what they are:
    assert read.budget_key() == RunPolicy(sandbox="required", kernels={"r": "ir"}).budget_key()


def test_the_cache_folder_changes_no_skip_key(make_submission: MakeSubmission, tmp_path: Path) -> None:
    """Where environments and data are kept is the runner's plumbing, never part of a result."""
    from codeml_repro.run.plan.planning import plan

    folder = make_submission("a-sub", "x = 1")
    keys = {plan(folder, RunPolicy(cache=tmp_path / name)).key for name in ("one", "two")}
    assert len(keys) == 1 and "cache" not in RunPolicy().budget_key()
