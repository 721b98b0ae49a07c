"""The axe-core the browser tests inject stays current.

``tools/axe/package.json`` pins it and records the latest release the npm
registry offered when the pin was set (``latestChecked``, from ``npm view
axe-core version``). The pin may trail that by one minor release at most: an
older axe misses rules (4.11 passed pages 4.14 fails). Offline, so it compares
with the recorded release; refresh both when you update the pin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AXE_DIR = Path(__file__).resolve().parents[1] / "tools" / "axe"


def _version(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in text.strip().lstrip("^~=").split(".")[:3])
    return major, minor, patch


def test_the_pinned_axe_core_is_at_most_one_minor_behind_the_recorded_latest() -> None:
    package = json.loads((AXE_DIR / "package.json").read_text(encoding="utf-8"))
    pinned = _version(package["dependencies"]["axe-core"])
    latest = _version(package["latestChecked"]["axe-core"])
    assert pinned[0] == latest[0] and pinned[1] >= latest[1] - 1, (
        f"tools/axe pins axe-core {pinned} but {latest} was the latest release: update the pin"
    )
    lock = json.loads((AXE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    assert _version(lock["packages"]["node_modules/axe-core"]["version"]) == pinned


def test_the_installed_axe_core_is_the_pinned_one() -> None:
    installed = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if not installed.is_file():
        pytest.skip("axe-core is not installed here (npm ci --prefix tools/axe)")
    package = json.loads((AXE_DIR / "package.json").read_text(encoding="utf-8"))
    assert json.loads(installed.read_text(encoding="utf-8"))["version"] == package["dependencies"]["axe-core"]
