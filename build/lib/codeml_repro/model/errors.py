"""One exception root for everything the toolkit raises on purpose.

A notebook that fails is *not* an exception here: the runner returns a result
for it. These errors mean the tool itself could not do its job, or an input
is invalid; each renders as one line (what, where, how to fix).
"""

from __future__ import annotations

from typing import TypeVar

_E = TypeVar("_E", bound="InputError")


class ReproError(Exception):
    """Root of every error codeml_repro raises deliberately."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type[ReproError], tuple[str]]:
        # Errors cross process boundaries (--jobs): keep them picklable.
        return (type(self), (self.message,))

    def __str__(self) -> str:
        return self.message


class InputError(ReproError):
    """A file written by a person (submission.yml, book data, notebook) is invalid."""

    @classmethod
    def at(cls: type[_E], path: object, field: str | None, problem: str) -> _E:
        where = f"{path}: {field}" if field else f"{path}"
        return cls(f"{where}: {problem}")


class SubmissionInvalid(InputError):
    """submission.yml or the artifact notebook cannot be used."""


class DataInvalid(InputError):
    """A book data file (book/_data/*.yml) is invalid."""


class SandboxUnavailable(ReproError):
    """The sandbox was required but cannot be started."""


class EnvironmentFailed(ReproError):
    """A per-submission environment could not be created."""


class UvMissing(ReproError):
    """uv, which builds the per-submission environments, is not installed (a tool error)."""


class RunnerFailed(ReproError):
    """The tool could not run a notebook (no fault of the notebook's): nothing to record."""


class SubmissionFault(ReproError):
    """Something a submission did (its notebook, its kernel) that the runner catches and records as
    that submission's result: never the tool's failure, never the end of a batch."""


class StoreError(ReproError):
    """Results on disk cannot be read or written."""


class MergeError(ReproError):
    """Shard results cannot be combined."""


class ShardError(ReproError):
    """A --shard value or a shard plan is malformed."""


class DataProblem(ReproError):
    """A declared input (artifact.data) cannot be used: that submission's result, not the batch's end."""


class DataUnavailable(DataProblem):
    """The input could not be fetched (after retries), or a shipped one is missing."""


class DataMismatch(DataProblem):
    """The input's bytes do not match its declared sha256."""


class DataTooLarge(DataProblem):
    """The inputs grew past the data budget while being fetched."""
