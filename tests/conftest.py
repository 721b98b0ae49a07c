"""Shared fixtures: tiny submissions built with nbformat in a temp root."""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

# pytest keeps each test module with its asserts rewritten in __pycache__, except where bytecode
# writing is off (PYTHONDONTWRITEBYTECODE, as on this machine): then every worker and the serial
# run rewrote every module again, 2-3 s of CPU each. Only this process: its children keep the setting.
sys.dont_write_bytecode = False

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def make_notebook(*sources: str, params: str | None = None, kernel: str = "python3") -> Any:
    """A notebook whose code cells are ``sources`` (after an optional parameters cell)."""
    cells = []
    if params is not None:
        cell = new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.extend(new_code_cell(s) for s in sources)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def tagged_cell(source: str, *tags: str) -> Any:
    """A code cell with cell tags (``raises-exception``, ``parameters``, ...)."""
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


MakeSubmission = Callable[..., Path]


@pytest.fixture
def make_submission(tmp_path: Path) -> MakeSubmission:
    """Write submissions/<slug>/ under tmp_path; returns the folder."""

    def make(slug: str, *sources: str, spec: dict[str, Any] | None = None,
             params: str | None = None, kernel: str = "python3") -> Path:
        folder = tmp_path / "submissions" / slug
        folder.mkdir(parents=True)
        data: dict[str, Any] = {"title": f"Paper {slug}", "authors": [{"name": "A. Author"}]}
        data.update(spec or {})
        (folder / "submission.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
        nbformat.write(make_notebook(*sources, params=params, kernel=kernel), folder / "artifact.ipynb")
        return folder

    return make


@pytest.fixture(scope="session", autouse=True)
def session_cache() -> Any:
    """The session's cache folder, read from ``CODEML_CACHE`` as the CLI reads it (``.ci/run`` points
    it at an empty folder): the default of every ``RunPolicy()`` a test makes, so a library call never
    falls back to the runner's own ``~/.cache/codeml-repro``. A test wanting its own passes ``cache=``."""
    from codeml_repro.cli.options import environment_settings
    from codeml_repro.model import policy

    cache = environment_settings()["cache"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(policy, "default_cache", lambda: cache)
        yield cache


@pytest.fixture(scope="session", autouse=True)
def base_environment(session_cache: Path) -> Any:
    """The base environment (where a submission without requirements.txt runs), in the session's cache.

    Built once at install time by ``scripts/test.sh`` (``codeml-repro env build``), so this only
    finds it; built here when the tests run without that step. None when it cannot be built.
    """
    from codeml_repro.model.errors import ReproError
    from codeml_repro.model.policy import RunPolicy
    from codeml_repro.run.batch.prebuild import base_environment as build

    try:
        return build(RunPolicy())
    except ReproError:
        return None


@pytest.fixture
def share_base_env(base_environment: Any) -> Callable[[Path], None]:
    """Link the session's base environment into another cache folder (a test's own ``cache=``)."""

    def share(cache: Path) -> None:
        if base_environment is None or base_environment.path is None:
            pytest.skip("the base environment could not be built (no package index, empty uv cache)")
        envs = cache / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        target = envs / Path(base_environment.path).name
        if not target.exists():
            target.symlink_to(base_environment.path, target_is_directory=True)

    return share


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The listing's book (tests/test_listing.py), built once per run for every module using it.

    Defined here, not imported into each module: an imported fixture is a new definition per
    module, and the book was built once per importing module. Under pytest-xdist the first worker
    to need it builds it and the others read it (they only read it): the suite is CPU-bound, and
    one build is about 20 s of CPU."""
    import json

    from filelock import FileLock

    from tests.test_listing import build_listing_book

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_listing_book(tmp_path_factory)
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, the same for every worker
    record = shared / "listing-book.json"
    with FileLock(str(shared / "listing-book.lock")):
        if record.is_file():
            built = {key: Path(path) for key, path in json.loads(record.read_text(encoding="utf-8")).items()}
            if (built["html"] / "index.html").is_file():  # not a record left by an earlier run
                return built
        built = build_listing_book(tmp_path_factory)
        record.write_text(json.dumps({key: str(path) for key, path in built.items()}), encoding="utf-8")
        return built


@pytest.fixture(autouse=True)
def no_gpu_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see a host with no GPU, also on a GPU runner: what a run of a GPU submission does is
    tested with fake hosts passed explicitly (tests/test_gpu.py), never with this machine's."""
    monkeypatch.setattr("codeml_repro.run.sandbox.gpu.vendors", lambda: [])


# Markers by what a module's tests need, so `pytest -m "not slow"` is a quick loop and pytest-xdist
# keeps what must not share the machine apart (scripts/test.sh runs the `serial` ones alone).
_BOOK_FIXTURES = {"book", "site"}
_BOOK_MODULES = {"test_book_site", "test_editions", "test_listing", "test_listing_security"}
# Serial: what a neighbour's load would change. CPU shares and a fork bomb's neighbour, wall-clock
# bounds on a cell (test_usage), kernels gone within a second. Tests that count processes count only
# their own run's children (prewarm, env_ahead, a worker's tool error), so they share the machine,
# as does the fetch stage's stop by a signal (10 s for what takes about one).
_SERIAL_MODULES = {"test_hostile_cpu", "test_hostile_pids", "test_usage"}
_SERIAL_TESTS = {"test_sigterm_stops_the_run_and_leaves_nothing"}  # its kernels gone 1 s after the exit
_KERNEL_CALLS = ("run_all(", "check_path(", "execute(", "run_cli(", '_cli("run"', "_cli('run'",
                 '"run", ', "run_prepared(", "run_matrix(", "bisect(", "venv_for(", "base_environment(")


@functools.cache
def _parsed(path: Path) -> tuple[str, ast.Module]:
    """A test module's source and syntax tree, read once per process (marks and scheduling read them)."""
    source = path.read_text(encoding="utf-8")
    return source, ast.parse(source)


def _reaching(links: Mapping[str, set[str]], seeds: set[str]) -> frozenset[str]:
    """``seeds`` and every name whose links lead to one of them, in any number of steps."""
    found = set(seeds)
    grew = True
    while grew:
        more = {name for name, linked in links.items() if name not in found and linked & found}
        found |= more
        grew = bool(more)
    return frozenset(found)


@functools.cache
def _kernel_functions(path: Path) -> frozenset[str]:
    """Names of the module's functions (tests, fixtures, helpers) that start a kernel, directly or
    through another function of the module: a test is marked by what it calls, not by its module."""
    source, tree = _parsed(path)
    lines = source.splitlines()  # once: ast.get_source_segment splits the whole source at every call
    bodies = {node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
              for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    seeds = {name for name, body in bodies.items() if any(c in body for c in _KERNEL_CALLS)}
    seeds |= {name for name in bodies if "runner_helpers import" in source and "run(" in bodies[name]}
    calls = {name: {other for other in bodies if f"{other}(" in body or f"{other}:" in body}
             for name, body in bodies.items()}
    return _reaching(calls, seeds)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    every_module = frozenset().union(*(_kernel_functions(p) for p in {item.path for item in items}))
    for item in items:
        module = item.path.stem
        source = _parsed(item.path)[0]
        needs: set[str] = set()
        if module.startswith("test_browser"):
            needs |= {"browser", "book"}
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in _BOOK_MODULES or _BOOK_FIXTURES & fixtures:
            needs.add("book")
        starts = _kernel_functions(item.path)
        name = getattr(item, "originalname", item.name)
        if name in starts or every_module & fixtures:  # a fixture may come from another module
            needs.add("kernel")
        host = {what for mark in item.iter_markers("host") for what in mark.args}
        if host & {"bwrap", "scratch"} or (name in starts and 'sandbox="required"' in source):
            needs.add("sandbox")
        if needs:
            needs.add("slow")
        if module in _SERIAL_MODULES or name in _SERIAL_TESTS:
            needs |= {"serial", "slow"}
        for name in sorted(needs):
            item.add_marker(name)


# What this host can do, probed once per session when a test first needs it, never at collection:
# a probe at import ran bwrap and made cgroups in every worker, for every run, even `-k one_test`.
def _probe_bwrap() -> bool:
    from codeml_repro.run.sandbox.bwrap import find_bwrap, probe_bwrap

    path = find_bwrap()
    return path is not None and probe_bwrap(path)[0]


def _probe_scratch() -> bool:
    from codeml_repro.run.sandbox.bwrap import find_bwrap, probe_scratch

    path = find_bwrap()
    return _probe_bwrap() and path is not None and probe_scratch(path) is None


def _probe_cgroups(controllers: frozenset[str]) -> bool:
    import os

    from codeml_repro.run.sandbox import cgroups

    group = cgroups.create(f"probe-{os.getpid()}", 64 * 2**20, 16)
    cgroups.remove(group)
    return group is not None and controllers <= set(group.in_force)


_PROBES: dict[str, tuple[Callable[[], bool], str]] = {
    "bwrap": (_probe_bwrap, "bwrap missing or unusable: apt-get install bubblewrap"),
    "scratch": (_probe_scratch, "bwrap cannot make a run folder a tmpfs"),
    "cgroups": (lambda: _probe_cgroups(frozenset({"memory", "pids"})), "this host gives no cgroups"),
    "cpu_cgroups": (lambda: _probe_cgroups(frozenset({"cpu"})), "this host gives no CPU cgroup"),
}
_PROBED: dict[str, bool] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.host("bwrap", ...)``: skip unless this host can, probed on first need."""
    for mark in item.iter_markers("host"):
        for what in mark.args:
            probe, reason = _PROBES[what]
            if what not in _PROBED:
                _PROBED[what] = probe()
            if not _PROBED[what]:
                pytest.skip(reason)


@pytest.fixture
def own_runs(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A temporary folder of this test's own where its run dirs are made, so a check for leftovers
    sees only this test's runs; short, as run dirs must be (their IPC socket paths are bounded)."""
    import shutil
    import tempfile

    from codeml_repro.run.sandbox.rundir import runs_base

    runs = Path(tempfile.mkdtemp(prefix="codeml-test-runs-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(runs))
    assert runs_base() == runs
    yield runs
    shutil.rmtree(runs, ignore_errors=True)


# Tests that share a costly fixture run their module on one worker: a fixture of module or session
# scope (the listing's book, the real site, an initialised site, the examples run once by the CLI,
# a built wheel) is then made once, not once per worker. Every other test, book builds of its own
# included, goes wherever a worker is free, so no worker is left with every book and browser test.
# pytest-xdist's own `xdist_group` marks do nothing under pytest 9 (the worker's rewritten node id
# is not kept), so the controller, which sees only node ids, groups them with this scheduler, by the
# fixtures each test function asks for (read from its module's source).
_SHARED_FIXTURES = frozenset({"book", "book_url", "browser"})  # conftest.py's costly ones


def _is_shared_fixture(node: ast.FunctionDef) -> bool:
    """``@pytest.fixture(scope="module")`` or ``"session"``: made once per worker."""
    return any(
        isinstance(d, ast.Call) and any(
            k.arg == "scope" and isinstance(k.value, ast.Constant) and k.value.value in ("module", "session")
            for k in d.keywords)
        for d in node.decorator_list)


@functools.cache
def _sharing_functions(path: Path) -> frozenset[str]:
    """The module's functions (tests and fixtures) that ask for a shared fixture, directly or
    through another fixture of the module (a fixture that asks for the book is shared like it)."""
    functions = [node for node in _parsed(path)[1].body if isinstance(node, ast.FunctionDef)]
    params = {node.name: {a.arg for a in node.args.args} for node in functions}
    shared = set(_SHARED_FIXTURES) | {node.name for node in functions if _is_shared_fixture(node)}
    return frozenset(_reaching(params, shared) & params.keys())


def together(nodeid: str) -> str:
    """The scope a test is scheduled in: its module if it shares a costly fixture, else its own
    node id."""
    path, _, name = nodeid.partition("::")
    file = REPO / path
    if file.suffix == ".py" and file.is_file() and name.split("[", 1)[0] in _sharing_functions(file):
        return path
    return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class Together(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return together(nodeid)

    return Together(config, log)


@pytest.fixture(scope="module")
def book_url(book: dict[str, Path]) -> Any:
    """The session's book served on 127.0.0.1, for the browser tests."""
    from tests.browser import serve

    with serve(book["html"]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Any:
    """Debian's headless Chromium, one per module."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
