"""The base environment: the common scientific stack a submission without requirements.txt gets.

Not the toolkit's own interpreter, whose packages change whenever the toolkit's do: a fixed set,
pinned exactly in ``base-requirements.txt`` (shipped inside the package), with everything it
pulls in, ipykernel included, resolved as of :data:`BASE_AS_OF`, so it resolves the same way
years later. It is built like any other environment (:func:`~codeml_repro.run.env.environment.venv_for`,
the same cache, its key covering this file), once, ahead of time by ``codeml-repro env build``.
The authors' guide lists these pins (tests/test_guide.py checks it against this file).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

BASE_REQUIREMENTS = Path(__file__).with_name("base-requirements.txt")
BASE_AS_OF = date(2025, 6, 1)
"""Everything the pins pull in (and the kernel's packages) resolves as of this day (``--exclude-newer``)."""


def base_pins(path: Path = BASE_REQUIREMENTS) -> dict[str, str]:
    """``{distribution: version}`` of the base environment's pins, in the file's order."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        name, sep, version = spec.partition("==")
        if sep:
            pins[name.strip()] = version.strip()
    return pins
