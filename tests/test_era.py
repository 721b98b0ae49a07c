"""Environments of the author's era without guessing: exact pins date the kernel's packages, and
``as_of`` never makes an exact pin unsatisfiable.

A fake package index on 127.0.0.1 stands in for PyPI: PEP 691 JSON pages with PEP 700 upload
times, plus PyPI's JSON API for a package whose simple page is HTML only. Its ``ipykernel`` and
``ipython`` are tiny wheels playing the kernel's packages (the environment is built by the real
uv, never started). Nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from codeml_repro.model.errors import EnvironmentFailed
from codeml_repro.model.policy import IndexSettings
from codeml_repro.run.env import lock
from codeml_repro.run.env.environment import venv_for
from codeml_repro.run.env.era import UploadDates, infer
from tests.wheels import FakeIndex, build_wheel, project_page, serve_index, wheel_entry

# name -> [(version, requires, upload time)]
RELEASES: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "ipython": [("8.0", (), "2022-12-01T10:00:00Z"), ("9.0", (), "2024-03-01T10:00:00Z")],
    "ipykernel": [("6.0", ("ipython<9",), "2022-12-01T10:00:00Z"),
                  ("7.0", ("ipython>=9",), "2024-03-01T10:00:00Z")],
    "old-plot": [("3.6.3", (), "2023-01-11T22:51:00Z"), ("3.8.0", (), "2024-05-01T10:00:00Z")],
    "old-num": [("1.23.5", (), "2022-11-20T08:00:00Z")],
    # published after the kernel's 7.0: pinning it makes the inferred era include ipykernel 7.0
    "new-lib": [("2.0", (), "2024-06-01T10:00:00Z")],
    "numpy": [("1.24.0rc1", (), "2022-12-10T10:00:00Z"), ("1.24.1", (), "2022-12-26T10:00:00Z"),
              ("2.0.0", (), "2024-06-16T10:00:00Z")],
    # an index without PEP 700 times for this one: the JSON API answers
    "html-only": [("0.5", (), "2021-07-04T12:00:00Z")],
}
HTML_ONLY = {"html-only"}
# released with wheels for CPython 3.6 and 3.7 on Linux only
PY37_ONLY = {"old-ext": [("1.0", "2019-03-01T10:00:00Z")]}


def _pages(files: Path) -> dict[str, tuple[bytes, str]]:
    """Every page the index answers, keyed by URL path: (body, content type)."""
    pages: dict[str, tuple[bytes, str]] = {}
    for name, releases in RELEASES.items():
        entries, api = [], {}
        for version, requires, uploaded in releases:
            wheel = build_wheel(files, version, "VALUE = 1\n", name=name, requires=requires)
            entries.append(wheel_entry(wheel, uploaded))
            api[version] = [{"filename": wheel.name, "upload_time_iso_8601": uploaded}]
        if name in PY37_ONLY:
            continue
        if name in HTML_ONLY:
            links = "".join(f'<a href="{e["url"]}#sha256={e["hashes"]["sha256"]}">{e["filename"]}</a>'
                            for e in entries)
            pages[f"/simple/{name}/"] = (f"<html><body>{links}</body></html>".encode(), "text/html")
            pages[f"/pypi/{name}/json"] = (json.dumps({"releases": api}).encode(), "application/json")
        else:
            pages[f"/simple/{name}/"] = project_page(name, entries, [r[0] for r in releases])
    for name, old in PY37_ONLY.items():
        entries = []
        for version, uploaded in old:
            pure = build_wheel(files, version, "VALUE = 1\n", name=name)
            for tag in ("cp36-cp36m", "cp37-cp37m"):
                wheel = files / pure.name.replace("py3-none-any", f"{tag}-manylinux2014_x86_64")
                wheel.write_bytes(pure.read_bytes())
                entries.append(wheel_entry(wheel, uploaded))
            pure.unlink()
        pages[f"/simple/{name}/"] = project_page(name, entries, [v for v, _ in old])
    return pages


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeIndex]:
    files = tmp_path_factory.mktemp("files")
    with serve_index(_pages(files), files) as served:
        yield served


@pytest.fixture
def uv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uv's own cache in the test's folder: every page comes from the fake index."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))


def test_exact_pins_are_read_from_requirement_lines() -> None:
    text = ("Pandas==1.5.3  # the paper's\nnumpy==1.23.*\nscipy>=1.9\n"
            "matplotlib == 3.6.3 ; python_version>'3'\nseaborn==0.12.2 \\\n    --hash=sha256:abc\n"
            "./wheels/x-1.0-py3-none-any.whl\nrequests\n")
    assert lock.exact_pins(text) == {"pandas": "1.5.3", "matplotlib": "3.6.3", "seaborn": "0.12.2"}


def test_upload_days_come_from_the_index_and_are_cached(index: FakeIndex, tmp_path: Path) -> None:
    """PEP 700 times from the JSON simple page; the JSON API for an index page without them; one
    request per package, then the cache answers, offline too."""
    dates = UploadDates(IndexSettings(index_url=index.url), tmp_path)
    before = len(index.requests)
    assert dates.day("old-plot", "3.6.3") == date(2023, 1, 11)
    assert dates.day("Old_Plot", "3.8.0") == date(2024, 5, 1)
    assert dates.day("html-only", "0.5") == date(2021, 7, 4)
    asked = index.requests[before:]
    assert asked == ["/simple/old-plot/", "/simple/html-only/", "/pypi/html-only/json"]
    offline = UploadDates(IndexSettings(index_url=index.url), tmp_path, offline=True)
    assert offline.day("old-plot", "3.6.3") == date(2023, 1, 11)
    assert offline.day("old-num", "1.23.5") is None  # never asked: not cached, and offline asks nothing
    assert len(index.requests) == before + 3


def test_the_era_is_the_latest_upload_day_among_the_pins(index: FakeIndex, tmp_path: Path) -> None:
    dates = UploadDates(IndexSettings(index_url=index.url), tmp_path)
    inferred = infer({"old-num": "1.23.5", "old-plot": "3.6.3", "absent": "1.0"}, dates)
    assert inferred is not None
    assert (inferred.day, inferred.latest, inferred.undated) == (date(2023, 1, 11), "old-plot==3.6.3",
                                                                 ("absent==1.0",))
    note = inferred.note()
    assert "resolved as of 2023-01-11, the latest upload date among the exact pins in requirements.txt " \
           "(old-plot==3.6.3); no upload date for absent==1.0" in note
    assert infer({}, dates) is None


def test_the_kernel_is_dated_only_without_as_of_and_with_a_known_day(index: FakeIndex, tmp_path: Path
                                                                    ) -> None:
    """as_of given: the author's date stands. Offline with nothing cached (or pins the index does
    not know): no day is guessed, and the environment resolves as before, with no note."""
    from codeml_repro.run.env.era import kernel_era

    settings = IndexSettings(index_url=index.url)
    offline = UploadDates(settings, tmp_path / "empty", offline=True)
    assert kernel_era(lock.Era(), "old-plot==3.6.3\n", offline) == (lock.Era(), None)
    assert kernel_era(lock.Era(), "absent==1.0\n", UploadDates(settings, tmp_path)) == (lock.Era(), None)
    dated, inferred = kernel_era(lock.Era(), "old-plot==3.6.3\n", UploadDates(settings, tmp_path))
    assert dated == lock.Era(kernel_as_of=date(2023, 1, 11)) and inferred is not None
    given = lock.Era(as_of=date(2024, 1, 1))
    assert kernel_era(given, "old-plot==3.6.3\n", UploadDates(settings, tmp_path)) == (given, None)


def test_pins_date_the_kernel_packages_and_the_result_says_which_day(
    index: FakeIndex, tmp_path: Path, uv_cache: None
) -> None:
    """No as_of, exact pins of early 2023: the kernel gets the ipykernel and IPython of that era (6.0,
    8.0), not today's 7.0 and 9.0; the day is in the environment's record, its notes and its lock
    file. Without exact pins the kernel resolves as today. The cached environment asks nothing."""
    settings = IndexSettings(index_url=index.url)
    req = tmp_path / "sub" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("old-num==1.23.5\nold-plot==3.6.3\n")
    env = venv_for(req, root=tmp_path / "cache", index=settings)
    assert "ipykernel==6.0" in env.lock and "ipython==8.0" in env.lock
    assert env.era == {"kernel_as_of": "2023-01-11", "inferred_from": "old-plot==3.6.3", "undated": []}
    assert env.describe()["era"]["kernel_as_of"] == "2023-01-11"
    assert len(env.notes) == 1 and "resolved as of 2023-01-11" in env.notes[0]
    header = (Path(env.path or "") / lock.LOCK_FILE).read_text().splitlines()[0]
    assert header.startswith("# kernel packages (ipykernel, ipython,") and "as of 2023-01-11" in header

    before = len(index.requests)
    again = venv_for(req, root=tmp_path / "cache", index=settings, offline=True)
    assert again.path == env.path and again.notes == env.notes and len(index.requests) == before

    req.write_text("old-num==1.23.5\nnew-lib==2.0\n")  # a pin of mid-2024: the kernel of mid-2024
    assert "ipykernel==7.0" in venv_for(req, root=tmp_path / "cache", index=settings).lock
    req.write_text("old-plot\n")  # nothing pinned exactly: no era, the kernel as of today
    plain = venv_for(req, root=tmp_path / "cache", index=settings)
    assert "ipykernel==7.0" in plain.lock and plain.era == {} and plain.notes == ()


def test_as_of_never_makes_an_exact_pin_unsatisfiable(
    index: FakeIndex, tmp_path: Path, uv_cache: None
) -> None:
    """as_of 2024-01-01 with old-plot==3.8.0 (uploaded 2024-05-01): the author's pin stands, and
    everything else (the kernel) still resolves as of the date."""
    req = tmp_path / "sub" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("old-plot==3.8.0\n")
    era = lock.Era(as_of=date(2024, 1, 1))
    env = venv_for(req, root=tmp_path / "cache", index=IndexSettings(index_url=index.url), era=era)
    assert "old-plot==3.8.0" in env.lock and "ipykernel==6.0" in env.lock
    assert env.era == {} and env.notes == ()  # as_of given: nothing inferred
    req.write_text("old-plot>=3.8\n")  # a range is not exempt: as of the date, nothing satisfies it
    with pytest.raises(EnvironmentFailed, match="old-plot"):
        venv_for(req, root=tmp_path / "cache2", index=IndexSettings(index_url=index.url), era=era)



def _failed_check(tmp_path: Path, requirements: str, message: str, environment: dict[str, Any]) -> list[str]:
    """``check``'s lines for a run whose cell 0 raised ``message`` (the run's own record given)."""
    from codeml_repro.authoring.check import build_report
    from codeml_repro.cli.options import environment_policy
    from codeml_repro.model.result import ErrorInfo, Result, Status
    from tests.runner_helpers import make_submission

    sub = make_submission(tmp_path / "clash", ["%matplotlib inline"], requirements=requirements)
    error = ErrorInfo(type=message.split(":", 1)[0], message=message.split(": ", 1)[1], cell=0)
    res = Result(slug="clash", status=Status.FAILED, error=error, environment=environment)
    return build_report(res, sub, environment_policy(), 600).lines  # as `check` makes it


def test_a_kernel_package_clash_names_the_pins_and_the_as_of_of_the_era(
    index: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`'RcParams' object has no attribute '_get'` and `numpy.core.multiarray failed to import`:
    check names the day of the author's pins and the releases of that day to pin, read from the
    maintainer's index (never a generic "reproduce it in Jupyter")."""
    monkeypatch.setenv("CODEML_INDEX_URL", index.url)
    monkeypatch.setenv("CODEML_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CODEML_OFFLINE", raising=False)
    packages = {"matplotlib": "3.6.3", "ipython": "9.0", "matplotlib-inline": "0.2.2"}
    lines = _failed_check(tmp_path / "a", "old-num==1.23.5\nold-plot==3.6.3\n",
                          "AttributeError: 'RcParams' object has no attribute '_get'",
                          {"env_kind": "venv", "packages": packages})
    [hint] = [ln for ln in lines if "clash of versions" in ln]
    assert "(the run had matplotlib 3.6.3, ipython 9.0, matplotlib-inline 0.2.2)" in hint
    assert 'set artifact.environment.as_of: "2023-01-11"' in hint
    # the fake index has no matplotlib-inline: only what it has is named
    assert "pin `ipython==8.0` in requirements.txt (the newest on 2023-01-11)" in hint
    assert not any("Restart & Run All" in ln for ln in lines)

    numpy_lines = _failed_check(tmp_path / "b", "old-plot==3.6.3\n",
                                "ImportError: numpy.core.multiarray failed to import",
                                {"env_kind": "venv", "packages": {"numpy": "2.0.0"},
                                 "era": {"kernel_as_of": "2023-01-11"}})
    [hint] = [ln for ln in numpy_lines if "clash of versions" in ln]
    assert "another numpy than the one installed (the run had numpy 2.0.0)" in hint
    assert "pin `numpy==1.24.1` in requirements.txt (the newest on 2023-01-11)" in hint  # not 1.24.0rc1
    assert not any("is not installed" in ln for ln in numpy_lines)

    unpinned = _failed_check(tmp_path / "c", "old-plot\n",
                             "AttributeError: 'RcParams' object has no attribute '_get'", {})
    [hint] = [ln for ln in unpinned if "clash of versions" in ln]
    assert "set artifact.environment.as_of to the day it last ran" in hint


def test_an_era_that_needs_a_python_this_runner_lacks_says_which_and_where(
    index: FakeIndex, tmp_path: Path, uv_cache: None
) -> None:
    """A pin whose wheels are for CPython 3.6 and 3.7 only: the message names the Python its era
    needs, and that CI (where `uv python install` reaches the network) can provide it."""
    from codeml_repro.run.env.lock import host_pythons

    req = tmp_path / "sub" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("old-ext==1.0\n")
    with pytest.raises(EnvironmentFailed) as failed:
        venv_for(req, root=tmp_path / "cache", index=IndexSettings(index_url=index.url))
    message = failed.value.message
    assert message.startswith("sub/requirements.txt: uv pip compile failed: ") and "\n" not in message
    assert 'old-ext 1.0 has wheels for Python 3.6 to 3.7: set artifact.environment.python: "3.7"' in message
    if "3.7" not in host_pythons():
        assert message.endswith("; this runner lacks Python 3.7: CI, where `uv python install` reaches the "
                                "network, can provide Python 3.7 (`codeml-repro env build` installs the "
                                "Pythons the submissions ask for)")
