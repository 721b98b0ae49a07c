"""The era of an environment without ``as_of``: when the author's pinned releases were uploaded.

A ``requirements.txt`` pinning ``matplotlib==3.6.3`` and ``numpy==1.23.5`` was written in early
2023; today's ipykernel, IPython and matplotlib-inline break that stack (``%matplotlib inline``:
``'RcParams' object has no attribute '_get'``). So when ``as_of`` is not given, the kernel's
packages (:data:`~codeml_repro.run.env.lock.KERNEL_PACKAGES`) resolve as of the latest upload day
among the exact pins, and the result says which day that was.

Upload times come from the maintainer's package index, never from one the submission names: its
PEP 691 JSON simple page with PEP 700 ``upload-time``, else (an index without them) the JSON API
beside it (``/pypi/<name>/json``, as PyPI and its mirrors serve). A release's day is its first
file's. Every day a package's page gives is cached on disk per index and package, so a batch
asks once per package, and an offline build reads the cache only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from codeml_repro.model.policy import IndexSettings
from codeml_repro.run.env.lock import NO_WHEELS, Era, ci_python, exact_pins, host_pythons
from codeml_repro.run.env.uvtool import file_version, index_url

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_TIMEOUT_S = 30
_MAX_PAGE = 64 * 1024 * 1024  # numpy's page is a few MB
CACHE_DIR = "upload-dates"


@dataclass(frozen=True)
class Inferred:
    """The day the kernel's packages resolve as of, and the pins it was read from."""

    day: date | None  # None: no pin had an upload date on the index
    latest: str = ""  # the pin uploaded last, "matplotlib==3.6.3"
    undated: tuple[str, ...] = ()  # pins the index gave no upload date for

    def record(self) -> dict[str, Any]:
        """What the environment's marker (and each result's environment) keeps."""
        return {"kernel_as_of": self.day.isoformat() if self.day else None, "inferred_from": self.latest,
                "undated": list(self.undated)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Inferred:
        day = data.get("kernel_as_of")
        return cls(date.fromisoformat(day) if isinstance(day, str) else None,
                   str(data.get("inferred_from", "")), tuple(str(x) for x in data.get("undated", ())))

    def note(self) -> str:
        """One line for the result: which day, from which pin, and how to choose another."""
        kernel = "the kernel's packages (ipykernel, IPython, matplotlib-inline, jupyter_client, pyzmq, ...)"
        day = self.day.isoformat() if self.day else "?"
        text = (f"{kernel} resolved as of {day}, the latest upload date among the exact "
                f"pins in requirements.txt ({self.latest})")
        if self.undated:
            text += f"; no upload date for {', '.join(self.undated)}"
        return text + "; set artifact.environment.as_of to choose another day"


def _day(stamp: object) -> date | None:
    """The UTC day of an ISO 8601 upload time (PEP 700 ``upload-time``, ``upload_time_iso_8601``)."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).date()


def _earliest(days: dict[str, date], found: Version | None, day: date | None) -> None:
    """Keep ``day`` as ``found``'s upload day if it is the first seen (keyed by the normal form)."""
    if found is None or day is None:
        return
    version = str(found)
    if version not in days or day < days[version]:
        days[version] = day


def _get_json(url: str, accept: str) -> Any:
    """The JSON at ``url`` (None: not found, not JSON, or unreachable)."""
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "codeml-repro"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            if "json" not in response.headers.get_content_type():
                return None
            return json.loads(response.read(_MAX_PAGE + 1)[:_MAX_PAGE])
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _simple_days(base: str, name: str) -> dict[str, date]:
    """Each version's first upload day from the PEP 691 page (empty without PEP 700 times)."""
    page = _get_json(f"{base}/{name}/", SIMPLE_JSON)
    days: dict[str, date] = {}
    files = page.get("files") if isinstance(page, dict) else None
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
            _earliest(days, file_version(entry["filename"], name), _day(entry.get("upload-time")))
    return days


def _json_api_days(base: str, name: str) -> dict[str, date]:
    """Each version's first upload day from the JSON API beside a ``.../simple`` index."""
    if not base.endswith("/simple"):
        return {}
    data = _get_json(f"{base.removesuffix('/simple')}/pypi/{name}/json", "application/json")
    releases = data.get("releases") if isinstance(data, dict) else None
    days: dict[str, date] = {}
    for version, files in releases.items() if isinstance(releases, dict) else []:
        try:
            key = Version(str(version))
        except InvalidVersion:
            continue
        for entry in files if isinstance(files, list) else []:
            if isinstance(entry, dict):
                _earliest(days, key, _day(entry.get("upload_time_iso_8601") or entry.get("upload_time")))
    return days


@dataclass
class UploadDates:
    """Upload days of releases on one index, asked once per package and cached under ``cache``."""

    index: IndexSettings
    cache: Path
    offline: bool = False

    def _file(self, name: str) -> Path:
        digest = hashlib.sha256(index_url(self.index).encode()).hexdigest()[:16]
        return self.cache / CACHE_DIR / digest / f"{name}.json"

    def _cached(self, name: str) -> dict[str, date]:
        try:
            raw = json.loads(self._file(name).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(v): d for v, s in raw.items() if (d := _day(s)) is not None}

    def _store(self, name: str, days: dict[str, date]) -> None:
        """Write atomically (parallel builds may ask for the same package); a cache that cannot be
        written only means asking again."""
        path = self._file(name)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({v: d.isoformat() for v, d in sorted(days.items())}, f)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def releases(self, package: str, *, wanted: str | None = None, through: date | None = None
                 ) -> dict[str, date]:
        """``{version: first upload day}`` of ``package``, from the cache unless it lacks ``wanted``
        or anything uploaded after ``through`` (then the index is asked, when online)."""
        name = canonicalize_name(package)
        days = self._cached(name)
        stale = not days or (wanted is not None and wanted not in days) or (
            through is not None and max(days.values()) <= through)
        if stale and not self.offline:
            base = index_url(self.index)
            fetched = _simple_days(base, name) or _json_api_days(base, name)
            if fetched:
                days = {**days, **fetched}
                self._store(name, days)
        return days

    def day(self, package: str, version: str) -> date | None:
        """The day ``package==version`` was first uploaded (None: the index does not say)."""
        try:
            key = str(Version(version))
        except InvalidVersion:
            return None
        return self.releases(package, wanted=key).get(key)

    def newest_on(self, package: str, day: date) -> str | None:
        """The newest final release of ``package`` uploaded by the end of ``day``."""
        found = [Version(v) for v, d in self.releases(package, through=day).items() if d <= day]
        finals = [v for v in found if not v.is_prerelease and not v.is_devrelease]
        return str(max(finals)) if finals else None


def infer(pins: Mapping[str, str], dates: UploadDates) -> Inferred | None:
    """The latest upload day among ``pins`` (None when nothing is pinned exactly)."""
    dated: list[tuple[date, str]] = []
    undated: list[str] = []
    for name, version in pins.items():
        day = dates.day(name, version)
        if day is None:
            undated.append(f"{name}=={version}")
        else:
            dated.append((day, f"{name}=={version}"))
    if not dated and not undated:
        return None
    if not dated:
        return Inferred(None, undated=tuple(undated))
    day, latest = max(dated)
    return Inferred(day, latest, tuple(undated))


def kernel_era(era: Era, text: str, dates: UploadDates) -> tuple[Era, Inferred | None]:
    """``era`` with the kernel's packages dated by the exact pins' upload days when it has no
    ``as_of``; asked only when an environment is built (a cached one keeps its record). Without
    any upload date (offline with nothing cached, pins of local wheels) nothing is inferred."""
    pins = exact_pins(text)
    if era.as_of is not None or not pins:
        return era, None
    inferred = infer(pins, dates)
    if inferred is None or inferred.day is None:  # no date known (offline, local wheels): as before
        return era, None
    return dataclasses.replace(era, kernel_as_of=inferred.day), inferred


def _minor(interpreter: str) -> str | None:
    """``cp310`` -> ``3.10``, ``cp39`` -> ``3.9``; None for another implementation or ``py3``."""
    digits = interpreter[2:] if interpreter.startswith("cp") else ""
    return f"{digits[0]}.{digits[1:]}" if len(digits) >= 2 and digits.isdigit() else None


def wheel_pythons(package: str, version: str, index: IndexSettings) -> list[str]:
    """The CPython versions ``package==version`` publishes Linux wheels for, oldest first (empty:
    none, or the index does not say)."""
    name = canonicalize_name(package)
    page = _get_json(f"{index_url(index)}/{name}/", SIMPLE_JSON)
    files = page.get("files") if isinstance(page, dict) else None
    minors: set[str] = set()
    for entry in files if isinstance(files, list) else []:
        filename = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(filename, str) or file_version(filename, name) != Version(version):
            continue
        for tag in parse_wheel_filename(filename)[3]:
            minor = _minor(tag.interpreter)
            if minor is not None and (tag.platform == "any" or "linux" in tag.platform):
                minors.add(minor)
    return sorted(minors, key=lambda v: tuple(map(int, v.split("."))))


def explain_python(message: str, index: IndexSettings, pythons: Mapping[str, str] | None = None) -> str:
    """uv's refusal of a pin with no wheel for this interpreter, with the Python its era needs:
    the newest one its wheels are for, whether this host has it, and that CI can provide it."""
    found = NO_WHEELS.search(message)
    if found is None:
        return message
    try:
        minors = wheel_pythons(found.group(1), found.group(2), index)
    except (InvalidVersion, InvalidWheelFilename):
        return message
    if not minors:
        return message
    best = minors[-1]
    span = best if len(minors) == 1 else f"{minors[0]} to {best}"
    text = (f"{found.group(1)} {found.group(2)} has wheels for Python {span}: set "
            f"artifact.environment.python: \"{best}\"")
    have = host_pythons() if pythons is None else pythons
    text += " (this host has it)" if best in have else f"; this runner lacks Python {best}: {ci_python(best)}"
    return f"{message}; {text}"
