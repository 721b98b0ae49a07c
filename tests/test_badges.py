from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from codeml_repro.model.result import Status
from codeml_repro.results.badges import badges_for, endpoint_json, status_svg, tiers_svg, top_tier


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
def test_design_table(status: Status, tiers: list[str]) -> None:
    assert badges_for(status) == tiers
    assert top_tier(status) == (tiers[-1] if tiers else "none")


@pytest.mark.parametrize("status", list(Status))
def test_svgs_are_wellformed(status: Status) -> None:
    for svg in (status_svg(status), tiers_svg(status)):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "<script" not in svg


def test_endpoint_json_schema() -> None:
    data = endpoint_json(Status.NOT_REPRODUCED)
    assert data == {"schemaVersion": 1, "label": "CODEML artifact", "message": "not reproduced",
                    "color": "orange"}


def test_label_is_escaped() -> None:
    svg = status_svg(Status.FAILED, label="<script>x</script>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
