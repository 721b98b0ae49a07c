"""The runner's zmq end of the kernel's channels: a frame too big for the output cap is refused unread.

The kernel runs the author's code, and that code can send anything on its
sockets: three iopub messages carrying 1.5 GiB buffers each would be read in
full by libzmq, then copied by pyzmq and jupyter_client, before the client
could count a byte of them (the runner's memory would grow by gigabytes).
So every socket of the runner's side (the client's channels and the kernel
manager's control socket) has ``ZMQ_MAXMSGSIZE`` set before it connects:
libzmq reads a frame's size from its header and, past the limit, drops the
connection without allocating the frame. It never reconnects after such a
protocol error, so the channel is gone and what the kernel sends on it later
is lost: :func:`watch_channel` notices that (a disconnection that libzmq does
not retry while the kernel still runs) and the run is stopped as over its
output cap, instead of ending as if nothing had been said.

The limit (:func:`frame_limit`) derives from the output cap: no well-behaved
frame is bigger than the cap itself (outputs) or than the largest cell's source
(iopub echoes each cell's code in ``execute_input``), JSON escaping included.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any, cast

import zmq
import zmq.asyncio
from traitlets import Int, default
from zmq.utils.monitor import parse_monitor_message

from codeml_repro.run.kernel.wire import GuardedKernelClient

HEADROOM = 1 << 20
"""Room for a message's header frames and the JSON around its content."""
JSON_GROWTH = 2
"""How much JSON may lengthen text that nbformat counts once: a quote, backslash or newline is 2 bytes."""
WATCHED = ("shell", "iopub", "stdin", "control")
"""The channels nbclient reads (the heartbeat only echoes and is not read by nbclient)."""
RETRIES = zmq.EVENT_CONNECT_DELAYED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_CONNECTED
GRACE_S = 1.0
"""How long a disconnection waits for libzmq's first reconnection attempt (it makes one after
``reconnect_ivl``, 100 ms, whenever the peer closed or died; never after a refused frame)."""


def frame_limit(max_output_bytes: int, sources: Iterable[str] = ()) -> int:
    """The largest frame the runner accepts from a run whose outputs are capped at ``max_output_bytes``."""
    largest_source = max((len(s.encode("utf-8", "replace")) for s in sources), default=0)
    return JSON_GROWTH * (max_output_bytes + largest_source) + HEADROOM


def capped_context(max_frame_bytes: int) -> zmq.asyncio.Context:
    """A zmq context whose every new socket refuses frames over ``max_frame_bytes`` (-1: no limit)."""
    context = zmq.asyncio.Context()
    if max_frame_bytes > 0:
        context.setsockopt(zmq.MAXMSGSIZE, max_frame_bytes)
    return context


class CappedKernelClient(GuardedKernelClient):
    """The kernel client of a run: guarded channels (see :mod:`.wire`) on capped sockets, each with a
    monitor for :func:`watch_channel`.

    The run's kernel manager makes it (``client_class``, see :mod:`.manager`), with its config.
    """

    max_frame_bytes = Int(-1, help="Largest frame read from the kernel (-1: no limit).").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.monitors: dict[str, zmq.asyncio.Socket] = {}
        self.after_each_cell: dict[str, str] = {}  # user_expressions added to every execute request

    def execute(self, code: str, silent: bool = False, store_history: bool = True,
                user_expressions: dict[str, Any] | None = None, allow_stdin: bool | None = None,
                stop_on_error: bool = True) -> str:
        """jupyter_client's ``execute``, asking also for :attr:`after_each_cell` (see :mod:`.shellstatus`)."""
        expressions = {**self.after_each_cell, **(user_expressions or {})}
        return cast(str, super().execute(code, silent, store_history, expressions or None, allow_stdin,
                                         stop_on_error))

    @default("context")
    def capped_context_default(self) -> zmq.asyncio.Context:
        """The client's own context (traitlets' public default hook), ended by :meth:`stop_channels`."""
        return capped_context(self.max_frame_bytes)

    def start_channels(
        self, shell: bool = True, iopub: bool = True, stdin: bool = True, hb: bool = True,
        control: bool = True,
    ) -> None:
        """Start the channels; each watched one gets a monitor for :func:`watch_channel`.

        A monitor attached after the handshake still sees every later disconnection, the only
        event :func:`watch_channel` acts on.
        """
        super().start_channels(shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control)
        started = {"shell": shell, "iopub": iopub, "stdin": stdin, "control": control}
        for channel in WATCHED:
            socket = getattr(self, f"{channel}_channel").socket if started[channel] else None
            if socket is not None and channel not in self.monitors:
                self.monitors[channel] = cast(zmq.asyncio.Socket, socket.get_monitor_socket(zmq.EVENT_ALL))

    def stop_channels(self) -> None:
        """Close the monitors too (a socket left open would hang the context's end), then the context."""
        monitors, self.monitors = self.monitors, {}
        for monitor in monitors.values():
            monitor.close(linger=0)
        super().stop_channels()
        if not self.context.closed:
            self.context.destroy(linger=0)


async def watch_channel(
    channel: str, monitor: zmq.asyncio.Socket, running: Callable[[], bool], on_cut: Callable[[str], None]
) -> None:
    """Call ``on_cut(channel)`` if libzmq drops the channel for good while the kernel still runs.

    A kernel that exits or is killed closes its end: libzmq then tries to reconnect within
    :data:`GRACE_S`. A frame over ``MAXMSGSIZE`` is a protocol error: no attempt follows.
    """
    with contextlib.suppress(zmq.ZMQError, asyncio.CancelledError):
        while True:
            event = parse_monitor_message(await monitor.recv_multipart())["event"]
            if event == zmq.EVENT_MONITOR_STOPPED:
                return
            if event != zmq.EVENT_DISCONNECTED:
                continue
            if not await _retried(monitor) and running():
                on_cut(channel)
                return


async def _retried(monitor: zmq.asyncio.Socket) -> bool:
    """Whether libzmq tries to reconnect (or does) within :data:`GRACE_S`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GRACE_S
    while (left := deadline - loop.time()) > 0:
        if not await monitor.poll(int(left * 1000) + 1):
            return False
        event = parse_monitor_message(await monitor.recv_multipart())["event"]
        if event & RETRIES or event == zmq.EVENT_MONITOR_STOPPED:
            return True
    return False


class ChannelWatches:
    """One :func:`watch_channel` task per monitored channel of a client, cancelled at clean-up."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Future[None]] = []

    def start(self, kc: Any, running: Callable[[], bool], on_cut: Callable[[str], None]) -> None:
        """Watch each channel ``kc`` monitors (a client other than :class:`CappedKernelClient` has none)."""
        for channel, monitor in getattr(kc, "monitors", {}).items():
            self._tasks.append(asyncio.ensure_future(watch_channel(channel, monitor, running, on_cut)))

    def cancel(self) -> None:
        """The kernel is being shut down: its channels now close as they should."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
