"""What to do about an exception a notebook raised, by its name: the `check` advice.

Kept apart from the report's assembly (advice.py) so the knowledge of common
failures (missing packages, files, network) grows in one place.
"""

from __future__ import annotations

_NETWORK_ERRORS = {
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "URLError",
    "HTTPError",
    "gaierror",
    "socket.gaierror",
    "MaxRetryError",
    "NewConnectionError",
    "SSLError",
    "ReadTimeout",
    "ConnectTimeout",
    "ConnectTimeoutError",
    "TimeoutError",
}

# Import names whose package on PyPI is called something else.
_PIP_NAMES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "yaml": "PyYAML",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
}


def _missing_module_hint(message: str, has_requirements: bool) -> str:
    module = message.split("'")[1].split(".")[0] if message.count("'") >= 2 else ""
    package = _PIP_NAMES.get(module, module)
    what = f"add `{package}` (pinned, e.g. `{package}==X.Y.Z`)" if package else "add the package, pinned,"
    if module and package != module:
        what += f" — the package that provides `import {module}` —"
    where = "to your requirements.txt" if has_requirements else (
        "to a requirements.txt in the submission folder (the notebook then gets its own environment)"
    )
    return f"the package is not installed where the check runs: {what} {where}"


def failed_hint(error_type: str, message: str = "", has_requirements: bool = False) -> str:
    """What to do about a cell that raised ``error_type`` (the kernel's exception name)."""
    name = error_type.rsplit(".", 1)[-1]
    if name in {"ModuleNotFoundError", "ImportError"}:
        return _missing_module_hint(message, has_requirements)
    if name in {"FileNotFoundError", "PermissionError", "IsADirectoryError"}:
        return (
            "the notebook runs inside a copy of the submission folder: put every file it reads "
            "in that folder and open it by a relative path; write only inside the folder"
        )
    if name in _NETWORK_ERRORS or error_type in _NETWORK_ERRORS:
        return (
            "the notebook runs without network access: declare what it downloads in artifact.data "
            "(fetched and verified before the run), ship it in the submission folder, "
            "or use a dataset bundled with a package"
        )
    if name == "NameError":
        return (
            "a name is used before it is defined: run the notebook top to bottom in a fresh kernel "
            "(Restart & Run All); only the cell tagged `parameters` gets values from submission.yml"
        )
    if name == "MemoryError":
        return "the notebook ran out of memory: use less data or smaller batches"
    return "reproduce it with Restart & Run All in Jupyter, fix that cell, and run the check again"
