"""Messages from the kernel as they come off the wire, where a notebook can forge them.

The kernel's code holds the session key and the sockets: ``session.send(socket,
msg_type, content=b"...")`` or ``socket.send_multipart(parts)`` delivers bytes that
jupyter_client's ``Session.feed_identities``/``deserialize`` cannot read (not JSON, a
wrong HMAC signature, nesting that exhausts the stack, an integer longer than Python
converts). They raise ``ValueError``/``RecursionError`` deep inside nbclient, which
the runner would take for its own failure (``RunnerFailed``: no result key, no
notebook, a re-run every time). Here every channel decodes through :func:`decode`;
a message that does not decode into a well-shaped message is the notebook's doing:
its kernel is killed at once, and :func:`malformed_reason` tells the runner why, so the
submission is recorded as ``failed`` (``MalformedMessage``, with its cell), its duration,
key and executed notebook kept.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

from codeml_repro.model.errors import SubmissionFault
from codeml_repro.model.text import nesting_depth, shorten
from codeml_repro.run.sandbox import reaping

ERROR_TYPE = "MalformedMessage"
MAX_DEPTH = 100
"""Deepest JSON nesting in a message (strings aside): far beyond any real output's."""
_REASON_ATTR = "codeml_malformed"  # noted on the kernel manager, the client's parent
_SECTIONS = ("header", "parent_header", "metadata", "content")


class MalformedMessage(SubmissionFault):
    """A message from the kernel that cannot be read: the notebook's doing, not the tool's
    (its channel stops the run at once, and the submission is recorded as ``failed``)."""


def decode(session: Any, parts: list[bytes]) -> dict[str, Any]:
    """The message in ``parts`` (a multipart frame list), or :class:`MalformedMessage` saying why."""
    try:
        _, signed = session.feed_identities(parts)
        msg: Any = session.deserialize(signed)
    except RecursionError:
        raise MalformedMessage(f"it is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        first = next(iter(str(exc).splitlines()), "") or type(exc).__name__
        raise MalformedMessage(shorten(f"{type(exc).__name__}: {first}", 200)) from None
    for section in _SECTIONS:
        if not isinstance(msg.get(section), dict):
            raise MalformedMessage(f"its {section} is not a mapping")
        # orjson parses any depth; the runner's own walks (output size, claims, nbformat) recurse
        if nesting_depth(msg[section], MAX_DEPTH) > MAX_DEPTH:
            raise MalformedMessage(f"its {section} is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(msg["header"].get("msg_type"), str):
        raise MalformedMessage("its header has no message type")
    return dict(msg)


def _stop_run(manager: Any, reason: str) -> None:
    """Note the first reason on the kernel manager, and kill the kernel's process group now."""
    if manager is None:
        return
    if getattr(manager, _REASON_ATTR, None) is None:
        setattr(manager, _REASON_ATTR, reason)
    reaping.kill_group(getattr(getattr(manager, "provisioner", None), "pgid", None))


def malformed_reason(manager: Any) -> str | None:
    """Why the run of ``manager``'s kernel was stopped for a malformed message (None: it was not)."""
    reason = getattr(manager, _REASON_ATTR, None)
    return reason if isinstance(reason, str) else None


class GuardedChannel(AsyncZMQSocketChannel):
    """A channel that decodes through :func:`decode`, and stops the run on a malformed message."""

    client: Any = None  # set by GuardedKernelClient: its parent is the kernel manager

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        """The next message, decoded by :func:`decode` (``queue.Empty`` when none came in ``timeout`` s)."""
        assert self.socket is not None
        if not await self.socket.poll(None if timeout is None else int(timeout * 1000)):
            raise queue.Empty
        parts = await self.socket.recv_multipart()
        try:
            return decode(self.session, parts)
        except MalformedMessage as exc:
            _stop_run(getattr(self.client, "parent", None), str(exc))
            # Wait, never raise: nbclient sees the dead kernel (within a second) and cancels this
            # read, its clean path. An exception here would leave its liveness poll running after
            # clean-up, to fail later as a stray traceback.
            await asyncio.get_running_loop().create_future()
            raise AssertionError("unreachable") from exc


class GuardedKernelClient(AsyncKernelClient):
    """The kernel client whose shell, iopub, stdin and control channels are guarded."""

    shell_channel_class = Type(GuardedChannel)
    iopub_channel_class = Type(GuardedChannel)
    stdin_channel_class = Type(GuardedChannel)
    control_channel_class = Type(GuardedChannel)

    def _guarded(self, channel: Any) -> Any:
        if isinstance(channel, GuardedChannel):
            channel.client = self
        return channel

    @property
    def shell_channel(self) -> Any:
        return self._guarded(super().shell_channel)

    @property
    def iopub_channel(self) -> Any:
        return self._guarded(super().iopub_channel)

    @property
    def stdin_channel(self) -> Any:
        return self._guarded(super().stdin_channel)

    @property
    def control_channel(self) -> Any:
        return self._guarded(super().control_channel)
