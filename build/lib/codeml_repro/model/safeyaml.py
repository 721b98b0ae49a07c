"""YAML that an author wrote, loaded within bounds.

``yaml.safe_load`` constructs no objects, but it still expands aliases (a few
hundred bytes of ``&a [*b, *b, ...]`` become millions of nodes), recurses once
per nesting level (20,000 brackets exhaust the stack) and reads any size. This
loader refuses a file over :data:`MAX_BYTES` before parsing, refuses anchors
and aliases (``submission.yml`` has no use for them), and stops at
:data:`MAX_DEPTH` levels of nesting or :data:`MAX_NODES` nodes, each with one
line that names the file. :func:`load_mapping` is what the readers of ``submission.yml``
and ``reviews/<slug>.yml`` call: the document must be a mapping, and every other outcome is one
line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeml_repro.model.errors import SubmissionInvalid
from codeml_repro.model.logsafe import log_line
from codeml_repro.model.text import bracket_depth

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000


class _Refused(yaml.YAMLError):
    """The document is over a bound; the message says which.

    Not a ``ReproError`` (tests/test_errors_root.py allows it): :func:`load_bounded` raises
    ``yaml.YAMLError`` for every unreadable document, and each reader turns that into its own
    ``InputError`` naming the file; a bound is one more way a document is unreadable."""


class BoundedLoader(yaml.SafeLoader):  # the pure-Python one: the C composer has no hook
    """A safe loader that composes no alias and stops at a depth and a node count."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(f"line {event.start_mark.line + 1}: anchors and aliases (&, *) are not allowed")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES} values")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_bounded(path: Path) -> Any:
    """The YAML document in ``path``; raises ``yaml.YAMLError`` (one-line message) past a bound.

    ``OSError``/``UnicodeDecodeError`` pass through for the caller to word.
    """
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _Refused(f"larger than {MAX_BYTES // 1024} KiB; keep long texts (abstracts) short")
    text = data.decode("utf-8")
    if bracket_depth(text) > MAX_DEPTH:  # before PyYAML's scanner, which slows down with depth
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
    try:
        return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader subclass: no objects built
    except RecursionError:  # a bound above should come first; never a traceback regardless
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep") from None


def load_mapping(path: Path, keys: str, *, missing: str = "file not found") -> dict[str, Any]:
    """The mapping an author's YAML file ``path`` holds; anything else is one
    :class:`SubmissionInvalid` line naming the file: ``missing`` when there is no file, unreadable,
    not YAML (or past a bound), or not a mapping (``keys`` follows "must be a mapping", e.g.
    "of keys to values")."""
    try:
        raw = load_bounded(path)
    except FileNotFoundError:
        raise SubmissionInvalid(f"{path}: {missing}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = log_line(" ".join(str(exc).split())[:300])
        raise SubmissionInvalid(f"{path}: not valid YAML: {problem}") from None
    except OSError as exc:
        raise SubmissionInvalid(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise SubmissionInvalid(f"{path}: (top level): must be a mapping {keys}")
    return raw
