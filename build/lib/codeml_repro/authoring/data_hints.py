"""The `check` advice about data: how to declare an input the notebook tried to download or open.

The notebook runs offline, inside a copy of its folder. When it fails with a
connection error, or cannot find a file under ``data/`` (or at an absolute path
on the author's machine), the check prints the exact ``artifact.data`` entry to
add, with the sha256 of the author's local copy when there is one. It never
downloads anything itself: an undeclared URL is the author's to hash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from codeml_repro.model.result import ErrorInfo
from codeml_repro.model.submission import Submission
from codeml_repro.run.sandbox.proxy_inside import REFUSED, normal_url
from codeml_repro.run.sandbox.recorder import Download

DATA_ERRORS = {"DataUnavailable", "DataMismatch", "DataTooLarge"}
_MISSING_FILE = {"FileNotFoundError", "IsADirectoryError", "NotADirectoryError"}
_URL = re.compile(r"https?://[^\s'\"<>()]+")
_POOL = re.compile(
    r"(https?)ConnectionPool\(host='([^']+)', port=\d+\): Max retries exceeded with url: (\S+)", re.IGNORECASE
)
_REFUSED = re.compile(r"codeml-repro: (https?://\S+) " + re.escape(REFUSED))
_MISSING_PATH = re.compile(r"No such file or directory: '([^']+)'")
# seaborn.load_dataset lists the data sets on github.com before downloading one: only a file
# placed in its cache (place: seaborn) is read without asking the network
_SEABORN_DATA = "https://raw.githubusercontent.com/mwaskom/seaborn-data/master/"
_SEABORN_INDEX = {"https://github.com/mwaskom/seaborn-data", "https://github.com/mwaskom/seaborn-data/"}
HASH_PLACEHOLDER = "<the sha256 that `codeml-repro hash FILE` prints for your copy>"


def _url_in(message: str) -> str | None:
    pool = _POOL.search(message)
    if pool:
        return f"{pool.group(1).lower()}://{pool.group(2)}{pool.group(3)}"
    found = _URL.search(message)
    return found.group(0).rstrip(".,;:") if found else None


def entry_text(source: str | None, path: str, sha256: str | None) -> str:
    """The YAML of one ``artifact.data`` entry, as it goes under ``artifact:`` in submission.yml."""
    lines = ["artifact:", "  data:"]
    first = f"url: {source}" if source else f"path: {path}"
    lines.append(f"    - {first}")
    if source:
        lines.append(f"      path: {path}")
    lines.append(f"      sha256: {sha256 or HASH_PLACEHOLDER}")
    return "\n".join("      " + line for line in lines)


def _sha256(path: Path) -> str | None:
    from codeml_repro.model.inputs import sha256_file

    try:
        return sha256_file(path) if path.is_file() else None
    except OSError:
        return None


def _missing_file_entry(message: str) -> tuple[str, str | None] | None:
    """(path to declare, sha256 of a local copy) for a file the notebook could not open."""
    found = _MISSING_PATH.search(message)
    if found is None:
        return None
    missing = found.group(1)
    if missing.startswith("/"):
        return f"data/{PurePosixPath(missing).name}", _sha256(Path(missing))
    parts = PurePosixPath(missing).parts
    if parts and parts[0] == "data" and ".." not in parts:
        return PurePosixPath(missing).as_posix(), None
    return None


def _refused_advice(url: str) -> list[str]:
    """The sandbox's proxy refused ``url`` (an ``https://`` one by its host alone: the path travels
    inside the tunnel)."""
    path = f"data/{PurePosixPath(url.split('?', 1)[0]).name or 'FILE'}"
    how = (
        "declare the download in submission.yml: the run fetches and verifies it before the notebook "
        "starts, and the sandbox answers the notebook's own request for that URL with it (offline); "
        "`codeml-repro check SLUG --record-downloads` (with the network) prints the entry with its "
        "sha256 and size"
    )
    if url.startswith("https://") and url.count("/") == 3:
        how += f"; only the host is known here ({url}): record the downloads to learn the full URL"
    return [f"{how}:\n{entry_text(url, path, None)}"]


def recorded_lines(downloads: list[Download], sub: Submission) -> list[str]:
    """What ``check --record-downloads`` prints: each download not yet declared, as an entry to paste."""
    declared = {normal_url(e.url) for e in sub.spec.artifact.data if e.url is not None}
    new = [d for d in downloads if d.url not in declared]
    if not new:
        return [f"recorded downloads: {len(downloads)}, all declared in artifact.data"]
    lines = [
        "note: recorded with this machine's network; check again without --record-downloads to see what "
        "CI sees",
        f"recorded downloads: {len(new)} not declared; paste under artifact.data in submission.yml "
        "(choose each path: the file is also mounted there; the notebook may keep downloading by URL):",
        "      artifact:", "        data:",
    ]
    taken: set[str] = {e.path for e in sub.spec.artifact.data if e.path is not None}
    for index, item in enumerate(new):
        if item.url in _SEABORN_INDEX:  # what load_dataset lists first; needless once placed
            continue
        name = PurePosixPath(urlsplit(item.url).path).name or "download"
        path = f"downloads/{name}" if f"downloads/{name}" not in taken else f"downloads/{index}-{name}"
        place = item.url.startswith(_SEABORN_DATA) and name not in taken
        path = name if place else path
        taken.add(path)
        lines += [f"          - url: {json.dumps(item.url)}", f"            sha256: {item.sha256}",
                  f"            size: {item.size}", f"            path: {path}"]
        if place:
            lines.append("            place: seaborn  # where seaborn.load_dataset looks first")
        if item.final != item.url:
            lines.append(f"            # read from {json.dumps(item.final)}")
    return lines


def declare_advice(error: ErrorInfo, sub: Submission | None) -> list[str]:
    """The entry to add when the notebook downloaded or opened an undeclared input (else nothing)."""
    refused = _REFUSED.search(error.message)
    if refused is not None:
        return _refused_advice(refused.group(1))
    name = error.type.rsplit(".", 1)[-1]
    if name in _MISSING_FILE:
        found = _missing_file_entry(error.message)
        if found is None:
            return []
        path, sha = found
        if sha is None and sub is not None:
            sha = _sha256(sub.folder / path)
        how = (
            "copy the file into your folder at that path and declare it (the run checks it is unchanged), "
            "or add `url:` (or `doi:` + `file:`, or `hf:`) to have it fetched:"
        )
        return [f"{how}\n{entry_text(None, path, sha)}"]
    url = _url_in(error.message)
    if url is None:
        return []
    path = f"data/{PurePosixPath(url.split('?', 1)[0]).name or 'FILE'}"
    return [
        "declare the download in submission.yml: the run fetches and verifies it before the notebook "
        "starts and mounts it read-only at `path`, where the notebook opens it:\n"
        + entry_text(url, path, None)
    ]


def data_error_advice(error: ErrorInfo) -> list[str]:
    """What to do when a declared input could not be fetched, or has other bytes than declared."""
    detail = " ".join(error.message.split())
    if error.type == "DataMismatch":
        fix = (
            "if the file changed on purpose, put the sha256 that `codeml-repro hash FILE` prints for the "
            "new copy in artifact.data; otherwise point the entry at the version your paper used"
        )
    elif error.type == "DataTooLarge":
        fix = "use a smaller subset of the data (the inputs of one submission may add up to 5 GB)"
    else:
        fix = (
            "check the URL (or DOI, or Hugging Face repository and commit) in a browser; "
            "a file that moved needs its new address in artifact.data"
        )
    return [f"no cell ran: {error.type}: {detail}", fix]
