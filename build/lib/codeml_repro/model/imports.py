"""A notebook's top-level imports, parsed and never run, and the distributions that provide them.

Shared by ``codeml-repro check``/``freeze`` (authoring) and the poster pages
(which name the packages a notebook imports in the last run's one line): the
code cells are parsed with :mod:`ast` after magics and shell lines are blanked.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.notebookfile import notebook_cells

# Import names whose distribution on PyPI is called something else.
IMPORT_TO_DIST = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "PyYAML",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "jwt": "PyJWT",
    "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib",
    "IPython": "ipython",
    "Bio": "biopython",
    "umap": "umap-learn",
    "faiss": "faiss-cpu",
    "zmq": "pyzmq",
    "git": "GitPython",
    "fitz": "PyMuPDF",
    "docx": "python-docx",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "pkg_resources": "setuptools",
    "google": "protobuf",
    "tensorflow_probability": "tensorflow-probability",
}
_MAGIC = re.compile(r"^\s*[%!?]")


def _source(cell: Mapping[str, object]) -> str:
    text = cell.get("source", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    if text.lstrip().startswith("%%"):
        return ""  # a cell magic: its body is not Python
    return "\n".join("" if _MAGIC.match(line) else line for line in text.splitlines())


def imported_modules(notebook: Path) -> list[str]:
    """Top-level modules the code cells import (absolute imports), in first-seen order."""
    try:
        cells = notebook_cells(notebook)  # bounded: a hostile notebook has no imports to list
    except SubmissionInvalid:
        return []
    seen: dict[str, None] = {}
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                seen.update((alias.name.split(".")[0], None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                seen[node.module.split(".")[0]] = None
    return [m for m in seen if m not in sys.stdlib_module_names and m not in {"codeml_repro", "__future__"}]


def normalize(name: str) -> str:
    """PEP 503 name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()
