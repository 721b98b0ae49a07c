from __future__ import annotations

from typing import Any

import pytest

from codeml_repro.model.artifact import Claim
from codeml_repro.run.claims import check_claims, parse_literal, recorded_values


def _glue_output(name: str, plain: str) -> dict[str, Any]:
    """What myst-nb's glue writes."""
    return {"output_type": "display_data", "data": {"text/plain": plain},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": ""}}}


def _scrap_output(name: str, data: Any) -> dict[str, Any]:
    """What scrapbook's sb.glue and codeml_repro.record write."""
    scrap = {"name": name, "data": data, "encoder": "json", "version": 1}
    return {"output_type": "display_data",
            "data": {"application/scrapbook.scrap.json+json": scrap},
            "metadata": {"scrapbook": {"name": name, "data": True, "display": False}}}


def test_reads_all_formats_last_wins() -> None:
    cells = [
        {"cell_type": "code", "outputs": [_glue_output("acc", "0.5")]},
        {"cell_type": "code", "outputs": [_glue_output("acc", "np.float64(0.95)"),
                                          _scrap_output("n", 450), _glue_output("name", "'adam'")]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}]},
    ]
    assert recorded_values(cells) == {"acc": 0.95, "n": 450, "name": "adam"}


def test_values_are_never_evaluated() -> None:
    evil = "__import__('os').system('touch /tmp/codeml-pwned')"
    assert parse_literal(evil) == evil
    assert parse_literal("[1, 2]") == [1, 2]
    assert parse_literal("  3.5 ") == 3.5


@pytest.mark.parametrize(("claim", "observed", "ok"), [
    (Claim(name="a", expected=0.953, rel_tol=0.01), 0.951, True),
    (Claim(name="a", expected=0.953, rel_tol=0.01), 0.90, False),
    (Claim(name="a", expected=1.0, abs_tol=0.1), 1.09, True),
    (Claim(name="a", expected=1.0, abs_tol=0.1), 1.2, False),
    (Claim(name="a", expected=450), 450, True),
    (Claim(name="a", expected=450), 451, False),
    (Claim(name="a", expected="adam"), "adam", True),
    (Claim(name="a", expected=True), 1, False),
    (Claim(name="a", expected=0.5, rel_tol=0.1), "0.5", False),
    (Claim(name="a", expected=0.5, rel_tol=0.1), float("nan"), False),
])
def test_tolerances(claim: Claim, observed: Any, ok: bool) -> None:
    [result] = check_claims([claim], {"a": observed})
    assert result.ok is ok
    assert result.recorded


def test_claim_never_recorded_fails() -> None:
    [result] = check_claims([Claim(name="missing", expected=1)], {"other": 1})
    assert not result.ok and not result.recorded and result.observed is None


def test_hostile_recorded_values_do_not_crash() -> None:
    broken = {"output_type": "display_data",
              "data": {"application/scrapbook.scrap.json+json": "{not json"},
              "metadata": {"scrapbook": {"name": "a"}}}
    assert recorded_values([{"cell_type": "code", "outputs": [broken]}]) == {}
    [huge] = check_claims([Claim(name="a", expected=1.0, rel_tol=0.1)], {"a": 10**400})
    assert not huge.ok and huge.recorded
