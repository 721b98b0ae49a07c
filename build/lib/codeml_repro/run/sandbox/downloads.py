"""Declared downloads answered offline, and declared inputs placed in a library's own cache.

Many notebooks read their data by URL (``pd.read_csv("https://...")``, ``pooch.retrieve``,
``seaborn.load_dataset``). In the sandbox there is no network, so a run starts the download
proxy of :mod:`.proxy_inside` first, in the sandbox's own network namespace: it answers each
``url`` declared under ``artifact.data`` with the verified file the fetch stage cached
(:func:`codeml_repro.run.inputs.fetch.file_path`, bound read-only), and refuses any other request at
once, naming the URL and how to declare it. The kernel alone trusts the run's CA
(:mod:`.certs`); name lookups fail at once (an empty ``resolv.conf``: no resolver to wait for).

An input with ``place`` is bound where its library looks before downloading: ``seaborn``
(``~/.cache/seaborn``, named by ``SEABORN_DATA``), ``sklearn`` (``~/scikit_learn_data``),
``pooch:APP`` (``~/.cache/APP``, ``pooch.os_cache``) or a folder under the kernel's home;
``path`` is then relative to it.

While :func:`~codeml_repro.run.sandbox.recorder.recording` is active (``check
--record-downloads``), the sandbox keeps the network and the kernel's proxy is the recorder
in the runner, which forwards every request and notes what came back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codeml_repro.model.errors import DataUnavailable
from codeml_repro.model.inputs import DataInput
from codeml_repro.model.submission import Submission
from codeml_repro.run.inputs.datacache import file_path, verified_file
from codeml_repro.run.sandbox import proxy_inside, recorder
from codeml_repro.run.sandbox.bwrap import HOME
from codeml_repro.run.sandbox.certs import RunCA
from codeml_repro.run.sandbox.rundir import RunDirs

PROXY_HOST, PROXY_PORT = "127.0.0.1", 3129  # the sandbox's own loopback: always free
PROXY_SOURCE = Path(proxy_inside.__file__)
# each library's folder under the home, and the variable every version of it reads first (seaborn
# 0.12 moved its default from ~/seaborn-data to ~/.cache/seaborn: the variable covers both)
LIBRARY_CACHES = {"seaborn": ".cache/seaborn", "sklearn": "scikit_learn_data"}
LIBRARY_VARIABLES = {"seaborn": "SEABORN_DATA", "sklearn": "SCIKIT_LEARN_DATA"}
RESOLV_CONF = Path("/etc/resolv.conf")
NO_RESOLVER = "# codeml-repro: no network here, no resolver to wait for\noptions timeout:1 attempts:1\n"


@dataclass(frozen=True)
class Downloads:
    """What a run adds to its sandbox for downloads: binds, kernel variables, a first command."""

    mounts: list[tuple[Path, Path]] = field(default_factory=list)  # (host source, place in the sandbox)
    env: dict[str, str] = field(default_factory=dict)
    inside: list[str] = field(default_factory=list)  # starts the proxy, then execs the rest
    share_net: bool = False  # recording: the kernel reaches the recorder over the host's network


def place_folder(place: str) -> PurePosixPath:
    """Where ``place`` puts inputs, relative to the kernel's home."""
    if place in LIBRARY_CACHES:
        return PurePosixPath(LIBRARY_CACHES[place])
    if place.startswith("pooch:"):
        return PurePosixPath(".cache", place.removeprefix("pooch:"))  # pooch.os_cache on Linux
    return PurePosixPath(place.removeprefix("~").lstrip("/") or ".")


def _cached(sub: Submission, entry: DataInput, cache: Path) -> Path:
    """The verified copy the fetch stage made of ``entry`` in the cache folder ``cache`` (its
    folder, for an unpacked archive)."""
    cached = verified_file(cache, entry)
    if cached is None:
        raise DataUnavailable(f"{sub.slug}: {entry.name}: not in the data cache (fetch it first)")
    return cached


def placed(sub: Submission, home: Path, cache: Path) -> list[tuple[Path, Path]]:
    """(cached copy, place under ``home``) of each input declared with ``place``."""
    out = []
    for entry in sub.spec.artifact.data:
        if entry.place is not None and entry.path is not None:
            out.append((_cached(sub, entry, cache), home / place_folder(entry.place) / entry.path))
    return out


def served(sub: Submission, cache: Path) -> dict[str, Path]:
    """Each declared URL and the verified file that answers it (an archive as it was downloaded)."""
    out = {}
    for entry in sub.spec.artifact.data:
        if entry.url is not None and entry.sha256 is not None:
            cached = _cached(sub, entry, cache)  # verified; an archive is answered as it was downloaded:
            shown = file_path(cache, entry.sha256) if entry.unpack else cached
            out[proxy_inside.normal_url(entry.url)] = shown
    return out


def proxy_env(proxy: str, ca_file: Path) -> dict[str, str]:
    """The kernel's variables naming the proxy and trusting only the run's CA (upper and lower case:
    libraries read one or the other; no ``no_proxy``: even loopback URLs are asked of the proxy)."""
    env = {name: proxy for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    env.update({name: str(ca_file) for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")})
    return env


def _link_placed(sub: Submission, dirs: RunDirs, cache: Path) -> None:
    """Without a sandbox: links in the kernel's home (on the host) to the cached copies."""
    for source, target in placed(sub, dirs.home, cache):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source, target_is_directory=source.is_dir())


def _write_certs(folder: Path, ca: RunCA, urls: dict[str, Path]) -> dict[str, list[str]]:
    """A leaf certificate and key for each host with a declared ``https://`` URL."""
    hosts = sorted({url.split("/")[2] for url in urls if url.startswith("https://")})
    certs = {}
    for index, netloc in enumerate(hosts):
        host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
        host = host.strip("[]")
        cert, key = ca.leaf(host)
        (folder / f"leaf-{index}.pem").write_bytes(cert)
        (folder / f"leaf-{index}.key").write_bytes(key)
        certs[host] = [str(folder / f"leaf-{index}.pem"), str(folder / f"leaf-{index}.key")]
    return certs


def _resolver_mount(folder: Path) -> list[tuple[Path, Path]]:
    """An empty ``resolv.conf`` over the host's (when it is a file in /etc): lookups fail at once."""
    target = RESOLV_CONF.resolve()
    if not target.is_file() or target.parent != RESOLV_CONF.parent:
        return []  # missing, or a link into /run, which the sandbox hides: nothing to wait for either
    (folder / "resolv.conf").write_text(NO_RESOLVER)
    return [(folder / "resolv.conf", target)]


def library_env(sub: Submission, home: Path) -> dict[str, str]:
    """``SEABORN_DATA`` / ``SCIKIT_LEARN_DATA`` naming the folder inputs were placed in, if any."""
    places = {entry.place for entry in sub.spec.artifact.data}
    named = LIBRARY_VARIABLES.items()
    return {var: str(home / LIBRARY_CACHES[name]) for name, var in named if name in places}


def prepare_downloads(sub: Submission, dirs: RunDirs, python: str, *, sandboxed: bool,
                      cache: Path) -> Downloads:
    """The download proxy of one run, its CA and the placed inputs (links, without a sandbox) from
    the cache folder ``cache`` (``RunPolicy.cache``), with the variables that point libraries at them."""
    made = _prepare(sub, dirs, python, sandboxed=sandboxed, cache=cache)
    libraries = library_env(sub, HOME if sandboxed else dirs.home)
    return Downloads(made.mounts, {**libraries, **made.env}, made.inside, made.share_net)


def _prepare(sub: Submission, dirs: RunDirs, python: str, *, sandboxed: bool, cache: Path) -> Downloads:
    active = recorder.active()
    if not sandboxed:
        _link_placed(sub, dirs, cache)
        if active is None:
            return Downloads()
        (dirs.root / "ca.pem").write_bytes(active.ca.cert_pem)  # recording: the kernel's one CA
        return Downloads(env=proxy_env(f"http://{PROXY_HOST}:{active.port}", dirs.root / "ca.pem"))
    mounts = placed(sub, HOME, cache)
    folder = dirs.root / "proxy"
    folder.mkdir()
    if active is not None:
        (folder / "ca.pem").write_bytes(active.ca.cert_pem)
        env = proxy_env(f"http://{PROXY_HOST}:{active.port}", folder / "ca.pem")
        return Downloads([(folder, folder), *mounts], env, share_net=True)
    urls = served(sub, cache)
    ca = RunCA()
    (folder / "ca.pem").write_bytes(ca.cert_pem)
    (folder / "files").mkdir()
    answers: dict[str, str] = {}
    binds: list[tuple[Path, Path]] = []
    for url, cached in urls.items():
        target = folder / "files" / cached.name
        target.touch()  # the mount point of the verified file
        answers[url] = str(target)
        binds.append((cached, target))
    certs = _write_certs(folder, ca, urls)
    config = {"host": PROXY_HOST, "port": PROXY_PORT, "urls": answers, "certs": certs}
    (folder / "config.json").write_text(json.dumps(config))
    mounts = [(folder, folder), *binds, *_resolver_mount(folder), *mounts]
    inside = [python, "-I", "-S", "-c", PROXY_SOURCE.read_text(), str(folder / "config.json"), "--"]
    return Downloads(mounts, proxy_env(f"http://{PROXY_HOST}:{PROXY_PORT}", folder / "ca.pem"), inside)
