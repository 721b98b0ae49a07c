"""Which network addresses the fetch stage may reach: public ones only, unless the maintainer says.

The fetch stage runs on the runner, with the runner's network: an author's ``url:`` naming
``127.0.0.1``, ``10.0.0.5`` or ``169.254.169.254`` (a cloud's metadata service) would make the
runner ask its own services for them. :func:`address_rule` names the rule an IP address breaks
(loopback, private, link-local, multicast, reserved, ...), looking through IPv6 forms that carry
an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64). :func:`literal_rule` applies it to the host
written in a URL, before any lookup, so ``validate`` refuses what is private on its face,
including the integer and short forms (``2130706433``, ``127.1``, ``0x7f.0.0.1``) the C resolver
accepts; names are checked after resolution, by :mod:`codeml_repro.run.inputs.netguard`.

``CODEML_ALLOW_PRIVATE_URLS=1`` (the runner's environment, never a submission) lifts the rule,
for tests serving data on 127.0.0.1 and for mirrors on a private network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOW_PRIVATE_VAR = "CODEML_ALLOW_PRIVATE_URLS"
SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_INET_ATON = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
_RULES = (  # the first that holds names the rule
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)


def private_allowed(source: Mapping[str, str]) -> bool:
    """``CODEML_ALLOW_PRIVATE_URLS`` of ``source`` is ``1`` (or ``true``/``yes``): the maintainer's
    setting, read by the CLI into ``RunPolicy.allow_private_urls``."""
    return source.get(ALLOW_PRIVATE_VAR, "").strip().lower() in {"1", "true", "yes"}


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo's client, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_rule(ip: IPAddress) -> str | None:
    """The rule ``ip`` breaks ("loopback", "private", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            rule = address_rule(inner)
            if rule is not None:
                return rule
    for rule, attribute in _RULES:
        if getattr(ip, attribute):
            return rule
    return None if ip.is_global else "not globally reachable"


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address, in any form a resolver takes as one (None for a name)."""
    host = host.strip("[]").split("%", 1)[0]  # an IPv6 zone (fe80::1%eth0) names an interface
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _INET_ATON.match(host):  # 2130706433, 127.1, 0177.0.0.1, 0x7f000001
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def literal_rule(url: str) -> str | None:
    """Why ``url`` may not be fetched, judged from its text alone (None: fine, or a name to resolve)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in SCHEMES:
        return "only http and https URLs are fetched"
    if not host:
        return "no host"
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "its host is a loopback name (localhost)"
    ip = parse_ip(host)
    if ip is None:
        return None
    rule = address_rule(ip)
    return None if rule is None else f"its host {ip} is not a public address ({rule})"
