"""Tiers, their words, the palette, SVG badges and the shields.io endpoint."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from codeml_repro.model.result import Status
from codeml_repro.model.submission import SubmissionSpec
from codeml_repro.results.badges import (
    PALETTE,
    TIER_LABELS,
    badges_for,
    earned_tiers,
    endpoint_json,
    status_svg,
    tiers_svg,
    top_tier,
)

CSS = Path(__file__).resolve().parents[1] / "codeml_repro" / "sphinx" / "static" / "codeml-listing.css"
KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("status", "tiers"), [
    (Status.REPRODUCED, ["available", "functional", "reproduced"]),
    (Status.FUNCTIONAL, ["available", "functional"]),
    (Status.NOT_REPRODUCED, ["available", "functional"]),
    (Status.FAILED, ["available"]),
    (Status.TIMEOUT, ["available"]),
    (Status.KERNEL_DIED, ["available"]),
    (Status.OUTPUT_LIMIT, ["available"]),
    (Status.INVALID, []),
    (Status.PENDING, ["available"]),
])
def test_design_table_with_an_archive(status: Status, tiers: list[str]) -> None:
    assert badges_for(status, archived=True) == tiers
    assert top_tier(status, archived=True) == (tiers[-1] if tiers else "none")
    assert badges_for(status) == [t for t in tiers if t != "available"]


def spec(**extra: object) -> SubmissionSpec:
    return SubmissionSpec.model_validate({"title": "T", "authors": [{"name": "A"}], **extra})


def test_no_archival_id_no_available() -> None:
    code_only = spec(links={"code": "https://github.com/a/b"})
    assert earned_tiers(Status.REPRODUCED, code_only, KEY) == ["functional", "reproduced"]
    assert top_tier(Status.FAILED) == "none"


@pytest.mark.parametrize("links", [
    {"doi": "10.5281/zenodo.1234567"},
    {"doi": "https://doi.org/10.5281/zenodo.1234567"},
    {"swh": "swh:1:dir:" + "a" * 40},
    {"swh": "swh:1:rev:" + "0f" * 20 + ";origin=https://github.com/a/b"},
])
def test_doi_or_swh_earns_available(links: dict[str, str]) -> None:
    s = spec(links=links)
    assert s.links.archival_id is not None
    assert earned_tiers(Status.FAILED, s, KEY) == ["available"]
    assert earned_tiers(Status.INVALID, s, KEY) == []


def test_doi_url_is_stored_bare() -> None:
    assert spec(links={"doi": "https://doi.org/10.5281/zenodo.7"}).links.doi == "10.5281/zenodo.7"


def review(reusable: bool = True, inputs: str = KEY) -> dict[str, object]:
    return {"by": "AEC", "date": "2025-07-01", "reusable": reusable, "note": "ok", "inputs": inputs}


def test_a_current_reusable_review_earns_reusable() -> None:
    s = spec(review=review())
    assert earned_tiers(Status.REPRODUCED, s, KEY) == ["functional", "reproduced", "reusable"]
    assert earned_tiers(Status.REPRODUCED, spec(review=review(reusable=False)), KEY)[-1] == "reproduced"


def test_a_stale_review_earns_nothing() -> None:
    s = spec(review=review(inputs="f" * 32))
    assert "reusable" not in earned_tiers(Status.REPRODUCED, s, KEY)
    assert "reusable" not in earned_tiers(Status.REPRODUCED, spec(review=review()), None)


def test_words_say_how_a_tier_was_earned() -> None:
    assert TIER_LABELS == {
        "available": "Available",
        "functional": "Functional (automated run)",
        "reproduced": "Reproduced (automated re-run)",
        "reusable": "Reusable (reviewed)",
    }
    svg = tiers_svg(Status.REPRODUCED, archived=False)
    assert "Reproduced (automated re-run)" in svg and "Functional (automated run)" in svg
    assert "reproduced (automated re-run)" in status_svg(Status.REPRODUCED)
    assert "Reusable (reviewed)" in tiers_svg(Status.REPRODUCED, True, reviewed=True)
    assert "Reusable" not in tiers_svg(Status.REPRODUCED, True)


@pytest.mark.parametrize("status", list(Status))
def test_svgs_are_wellformed(status: Status) -> None:
    for svg in (status_svg(status), tiers_svg(status), tiers_svg(status, True, True)):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "<script" not in svg


def test_endpoint_json_schema() -> None:
    data = endpoint_json(Status.NOT_REPRODUCED, "CODEML artifact")
    assert data == {"schemaVersion": 1, "label": "CODEML artifact",
                    "message": "not reproduced (automated re-run)", "color": "orange"}
    assert endpoint_json(Status.FUNCTIONAL)["message"] == "functional (automated run)"
    assert endpoint_json(Status.FAILED)["message"] == "failed"


def test_label_is_escaped() -> None:
    svg = status_svg(Status.FAILED, label="<script>x</script>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("name", sorted(PALETTE))
def test_palette_reads_against_white(name: str) -> None:
    """WCAG AA for small text: white text on a badge, or the colour as text on white."""
    ratio = (1.05) / (_luminance(PALETTE[name]) + 0.05)
    assert ratio >= 4.5, f"{name} {PALETTE[name]}: contrast {ratio:.2f}"


def test_the_stylesheet_uses_only_the_palette_for_badges() -> None:
    css = CSS.read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]*\.codeml-(?:badge|status)[^{}]*)\{([^}]*)\}", css)
    assert rules
    allowed = {c.lower() for c in PALETTE.values()} | {"#fff", "#ffffff"}
    for selector, body in rules:
        for colour in re.findall(r"#[0-9a-fA-F]{3,6}\b", body):
            assert colour.lower() in allowed, f"{selector.strip()}: {colour} is not from the palette"
