"""Hugging Face Hub inputs: a repository at a pinned commit, fetched into the shared data cache.

``snapshot_download`` fills a cache in the library's own layout
(``models--org--name/{blobs,snapshots/<commit>}``). After a complete download,
a note lists every file with its size; a later run that finds the note and
every file intact makes no network request at all. Blobs named by their sha256
(the large, LFS-stored files) are hashed again on every use.

Each run's kernel sees a small Hugging Face cache of its own (see
:func:`view_layout`): the declared repositories' snapshots and blobs, mounted
read-only, and ``refs/main`` pointing at the pinned commit, so an offline
``from_pretrained("org/name")`` finds exactly the pinned files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from codeml_repro.model.errors import DataUnavailable
from codeml_repro.model.inputs import HfSource, sha256_file

_SHA256_NAME = re.compile(r"^[0-9a-f]{64}$")


class HfUnavailable(DataUnavailable):
    """The repository could not be fetched (the message says why); the fetch stage names the
    input (``could not fetch hf:...``) and records it as that submission's result."""


def repo_folder(src: HfSource) -> str:
    """The library's folder name for a repository (``models--org--name``)."""
    return f"{src.type}s--" + src.repo.replace("/", "--")


def _note(cache: Path, src: HfSource) -> Path:
    ident = json.dumps([src.type, src.repo, src.revision, sorted(src.files)])
    return cache / ".complete" / (hashlib.sha256(ident.encode()).hexdigest()[:32] + ".json")


def snapshot_dir(cache: Path, src: HfSource) -> Path:
    return cache / repo_folder(src) / "snapshots" / src.revision


def _files(snapshot: Path) -> dict[str, int]:
    out = {}
    for dirpath, _dirs, names in os.walk(snapshot):
        for name in names:
            path = Path(dirpath) / name
            out[path.relative_to(snapshot).as_posix()] = path.stat().st_size  # follows the blob link
    return out


def _verified(cache: Path, src: HfSource) -> bool:
    """The noted files are all there with their sizes, and sha256-named blobs hash to their name."""
    try:
        expected = json.loads(_note(cache, src).read_text())
    except (OSError, ValueError):
        return False
    snapshot = snapshot_dir(cache, src)
    try:
        if not isinstance(expected, dict) or _files(snapshot) != expected:
            return False
    except OSError:
        return False
    for rel in expected:
        blob = (snapshot / rel).resolve()
        if _SHA256_NAME.match(blob.name) and sha256_file(blob) != blob.name:
            blob.unlink()  # fetched again below: its name is its content
            (snapshot / rel).unlink()
            return False
    return True


def hub_home(cache: Path) -> Path:
    """The Hugging Face home of the runner's downloads: beside ``cache``, in the toolkit's cache."""
    return cache.parent / "hf-home"


def _own_home(cache: Path) -> None:
    """Point what the library writes outside ``cache_dir`` at :func:`hub_home`, for this process.

    hf_xet keeps a chunk cache of every Xet-stored file it downloads in ``$HF_XET_CACHE``, else
    ``$HF_HOME/xet``, else the user's ``~/.cache/huggingface/xet``, and reads these variables
    when it downloads: the runner's fetches must not fill (or read) the maintainer's own cache.
    """
    home = hub_home(cache)
    os.environ["HF_HOME"] = str(home)
    os.environ["HF_XET_CACHE"] = str(home / "xet")


def fetch_hf(src: HfSource, cache: Path) -> Path:
    """The snapshot folder of ``src`` in ``cache``, downloaded unless intact from an earlier run.

    Never with the maintainer's token (``HF_TOKEN`` or ``huggingface-cli login``'s): an author
    declares the repository, and a gated or private one must not become readable by the notebook
    (and its outputs) because the runner's user may read it. Declared inputs are public.
    """
    if _verified(cache, src):
        return snapshot_dir(cache, src)
    _own_home(cache)
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils.tqdm import disable_progress_bars

    disable_progress_bars()  # the run's own progress display counts inputs
    try:
        folder = snapshot_download(
            src.repo,
            repo_type=src.type,
            revision=src.revision,
            allow_patterns=list(src.files) or None,
            cache_dir=cache,
            token=False,
            max_workers=4,
            endpoint=os.environ.get("HF_ENDPOINT") or None,  # the maintainer's mirror, read per call
        )
    except Exception as exc:  # the library raises HTTP, OS and its own errors: all mean unavailable
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise HfUnavailable(f"{type(exc).__name__}: {first}") from None
    snapshot = Path(str(folder))
    note = _note(cache, src)
    note.parent.mkdir(parents=True, exist_ok=True)
    tmp = note.with_suffix(".tmp")
    tmp.write_text(json.dumps(_files(snapshot), sort_keys=True))
    os.replace(tmp, note)
    return snapshot


def is_cached(cache: Path, src: HfSource) -> bool:
    """Every file of ``src`` is in ``cache``, intact, from an earlier complete download."""
    return _verified(cache, src)


def planned_bytes(src: HfSource) -> int:
    """The bytes a download of ``src`` writes, from the Hub's listing at the pinned commit.

    Asked before any file is fetched, so the data budgets are charged before the bytes arrive
    (the Hub checks each file's size as it downloads; the endpoint is the maintainer's).
    """
    from huggingface_hub import HfApi, RepoFile
    from huggingface_hub.utils import filter_repo_objects  # type: ignore[attr-defined]  # lazily exported

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=False)
    try:
        files = [
            item for item in api.list_repo_tree(src.repo, revision=src.revision, repo_type=src.type,
                                                recursive=True, token=False)
            if isinstance(item, RepoFile)
        ]
    except Exception as exc:  # HTTP, OS and the library's own errors: all mean unavailable
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise HfUnavailable(f"{type(exc).__name__}: {first}") from None
    chosen = filter_repo_objects(files, allow_patterns=list(src.files) or None, key=lambda f: f.path)
    return sum(int(f.size or 0) for f in chosen)


def total_bytes(cache: Path, src: HfSource) -> int:
    return sum(_files(snapshot_dir(cache, src)).values())


def view_layout(cache: Path, sources: list[HfSource], view: Path) -> list[tuple[Path, Path]]:
    """Build a run's own Hugging Face cache at ``view``: empty mount points and ``refs/main`` files.

    Returns (shared folder, place in the view) pairs to mount read-only: each repository's
    snapshot and its blobs (the snapshot's files are relative links into ``../../blobs``).
    The first pinned revision of a repository is its ``main``.
    """
    pairs: list[tuple[Path, Path]] = []
    for src in sources:
        repo = view / repo_folder(src)
        refs = repo / "refs" / "main"
        if not refs.exists():
            refs.parent.mkdir(parents=True, exist_ok=True)
            refs.write_text(src.revision)
        shared = cache / repo_folder(src)
        for place in (repo / "blobs", repo / "snapshots" / src.revision):
            if place not in {p for _s, p in pairs}:
                pairs.append((shared / place.relative_to(repo), place))
    return pairs
