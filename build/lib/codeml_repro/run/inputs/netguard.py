"""The fetch stage's connections: only to public addresses, checked on the address connected to.

Checking a URL's host before the request is not enough: a name may resolve to 127.0.0.1, a
public server may redirect to ``http://169.254.169.254/``, and a name may resolve to a public
address when checked and to a private one when connected (DNS rebinding). So the rule is applied
where the address is final: Python's ``socket.connect`` audit event (PEP 578), raised with the
numeric address every library (requests, urllib3, pooch's DOI lookups) connects to, on every
redirect hop. A thread fetching an author's input runs inside :func:`guarded`; a connection it
opens to an address :func:`~codeml_repro.model.addresses.address_rule` refuses raises
:class:`AddressRefused` before a packet is sent. Other threads (kernels' sockets, the batch) are
never looked at. The audit hook is installed once per process and costs one attribute look-up
for any other thread's connect.

The guard also remembers the sockets each guarded thread opened, so the fetch stage can shut
them down (``socket.shutdown``) when a deadline passes or the batch is interrupted: a read
blocked on a trickling server returns at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

from codeml_repro.model.addresses import address_rule
from codeml_repro.model.errors import DataUnavailable


class AddressRefused(DataUnavailable):
    """A guarded thread tried to connect to an address the rule refuses (not an OSError, so no
    library takes it for a network hiccup and tries again)."""


class Connections:
    """The sockets one fetch opened, shut down together when it is stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.stopped = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            stopped = self.stopped
        if stopped:
            _shutdown(sock)

    def stop(self) -> None:
        """Wake every read of this fetch (it then fails); later connections are shut at once."""
        with self._lock:
            self.stopped = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Guard(threading.local):
    active: bool = False
    allow_private: bool = False
    connections: Connections | None = None


_guard = _Guard()
_installed = threading.Lock()
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or not _guard.active:
        return
    sock, address = args
    if _guard.connections is not None:
        _guard.connections.add(sock)
    if not _guard.allow_private:
        check_connect(address)


def check_connect(address: object) -> None:
    """Raise :class:`AddressRefused` unless ``address`` (a socket address) is a public IP."""
    host = address[0] if isinstance(address, tuple) and address else address
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:  # a name resolved inside connect() could be rebound: only numbers pass
        raise AddressRefused(f"refused to connect to {host!r}: not a numeric address") from None
    rule = address_rule(ip)
    if rule is not None:
        raise AddressRefused(
            f"refused to connect to {ip}: not a public address ({rule}); "
            "the fetch stage reaches public addresses only"
        )


def _install() -> None:
    global _hooked
    with _installed:
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True


@contextlib.contextmanager
def guarded(*, allow_private: bool, connections: Connections | None = None) -> Iterator[None]:
    """Inside, this thread's connections are checked (unless ``allow_private``) and recorded."""
    _install()
    before = (_guard.active, _guard.allow_private, _guard.connections)
    _guard.active, _guard.allow_private, _guard.connections = True, allow_private, connections
    try:
        yield
    finally:
        _guard.active, _guard.allow_private, _guard.connections = before
