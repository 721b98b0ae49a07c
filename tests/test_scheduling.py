"""How the suite's tests are spread over pytest-xdist workers (``together()`` in conftest.py).

A module-scoped or session-scoped fixture is made once per worker that needs it, so the tests that
share one stay on one worker; every other test is scheduled alone, wherever a worker is free.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import _parsed, together

MODULE = '''
import pytest

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return 1

@pytest.fixture
def built(site):
    return site

@pytest.fixture
def plain():
    return 2

def test_reads_the_site(site): pass
def test_through_a_fixture(built): pass
def test_with_the_book(book, tmp_path): pass
def test_alone(plain, tmp_path): pass
'''


@pytest.fixture
def module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A test module written beside a fake repository root; its node id prefix."""
    import tests.conftest as conftest

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fake.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.setattr(conftest, "REPO", tmp_path)  # a new path each test: nothing cached applies
    return "tests/test_fake.py"


def test_tests_sharing_a_costly_fixture_share_their_modules_scope(module: str) -> None:
    for name in ("test_reads_the_site", "test_through_a_fixture", "test_with_the_book"):
        assert together(f"{module}::{name}") == module
    assert together(f"{module}::test_reads_the_site[a-b]") == module  # parametrized alike


def test_any_other_test_is_scheduled_alone(module: str) -> None:
    assert together(f"{module}::test_alone") == f"{module}::test_alone"
    assert together("tests/no_such_file.py::test_x") == "tests/no_such_file.py::test_x"


def test_the_real_listing_and_browser_modules_are_grouped() -> None:
    assert together("tests/test_listing.py::test_dashboard") == "tests/test_listing.py"
    assert together("tests/test_browser_readers.py::test_a_poster_page_reads_as_a_paper_not_a_log") == (
        "tests/test_browser_readers.py")
    own = "tests/test_listing.py::test_build_without_results_is_all_pending"  # builds a book of its own
    assert together(own) == own
    parsed = _parsed.cache_info().currsize
    together("tests/test_listing.py::test_card_content")
    assert _parsed.cache_info().currsize == parsed  # each module's source is read once
