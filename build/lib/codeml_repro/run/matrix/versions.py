"""Which versions of a package the maintainer's package sources offer.

A matrix entry (``1.3.*``, ``latest``) becomes the exact version it means, and ``bisect``
walks the releases between two versions. Both ask the same sources uv installs from
(:class:`~codeml_repro.model.policy.IndexSettings`): the find-links folder, and the index
(its PEP 503 "simple" page) unless the run is offline. Only file names are read (with a
page's ``data-requires-python`` and ``data-yanked``: a release this interpreter cannot
install is not offered as ``latest``); nothing is downloaded or installed here.
"""

from __future__ import annotations

import html
import platform
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    canonicalize_name,
)
from packaging.version import Version

from codeml_repro.model.policy import IndexSettings
from codeml_repro.run.env.uvtool import default_index_url, file_version

_ANCHOR_RE = re.compile(r"<a\s[^>]*>", re.I)
_HREF_RE = re.compile(r"""href\s*=\s*["']([^"'#]+)""", re.I)
_REQUIRES_PYTHON_RE = re.compile(r"""data-requires-python\s*=\s*["']([^"']*)""", re.I)
_YANKED_RE = re.compile(r"\sdata-yanked\b", re.I)
_TIMEOUT_S = 30


def _page_filenames(url: str) -> list[str] | None:
    """File names linked from an HTML page (None when it cannot be read)."""
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        return _folder_filenames(path)
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            page = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return [] if exc.code == 404 else None  # 404: the index has no such project
    except (OSError, ValueError):
        return None
    return _links(page)


def _usable(tag: str) -> bool:
    """A link this interpreter could install: not yanked, and its Requires-Python allows it."""
    if _YANKED_RE.search(tag):
        return False
    found = _REQUIRES_PYTHON_RE.search(tag)
    if found is None:
        return True
    try:
        return SpecifierSet(html.unescape(found.group(1))).contains(platform.python_version())
    except InvalidSpecifier:
        return True


def _links(page: str) -> list[str]:
    """File names of a PEP 503 page's links that this interpreter could install."""
    names = []
    for tag in _ANCHOR_RE.findall(page):
        href = _HREF_RE.search(tag)
        if href is not None and _usable(tag):
            names.append(urllib.parse.unquote(href.group(1).rstrip("/").rsplit("/", 1)[-1]))
    return names


def _folder_filenames(path: Path) -> list[str] | None:
    """Names in a local folder, or the links of its ``index.html`` (a file:// simple index)."""
    if (path / "index.html").is_file():
        return _links((path / "index.html").read_text(encoding="utf-8", errors="replace"))
    try:
        return [entry.name for entry in path.iterdir()]
    except OSError:
        return [] if not path.exists() else None


def available_versions(package: str, index: IndexSettings, *, offline: bool) -> list[Version] | None:
    """Every version of ``package`` the sources offer, sorted; None when no source could be asked.

    The find-links folder is always read; the index only when the run may use the network.
    """
    name = canonicalize_name(package)
    found: set[Version] = set()
    asked = False
    if index.find_links:
        link = index.find_links
        names = _page_filenames(link) if "://" in link else _folder_filenames(Path(link))
        if names is not None:
            asked = True
            found.update(v for v in (file_version(n, name) for n in names) if v is not None)
    if not offline:
        base = (index.index_url or default_index_url()).rstrip("/")
        names = _page_filenames(f"{base}/{name}/")
        if names is not None:
            asked = True
            found.update(v for v in (file_version(n, name) for n in names) if v is not None)
    return sorted(found) if asked else None


@dataclass
class VersionLookup:
    """:func:`available_versions` asked once per package for a whole run (or ``validate``).

    Every matrix with ``latest`` in one run then means the same release, and a batch of
    submissions over one package reads its index page once.
    """

    index: IndexSettings
    offline: bool
    _seen: dict[str, list[Version] | None] = field(default_factory=dict, repr=False)

    def __call__(self, package: str) -> list[Version] | None:
        name = canonicalize_name(package)
        if name not in self._seen:
            self._seen[name] = available_versions(name, self.index, offline=self.offline)
        return self._seen[name]


def best_match(versions: list[Version], specifier: SpecifierSet | None) -> Version | None:
    """The newest version a specifier allows (``None``: the newest final release)."""
    if specifier is None:
        finals = [v for v in versions if not v.is_prerelease]
        return max(finals or versions, default=None)
    return max(specifier.filter(versions), default=None)

