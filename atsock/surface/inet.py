"""Addresses of AF_INET and AF_INET6 sockets: what a call takes, and what the surface hands out.

Modules print addresses their own way (Quectel IPv6 upper-case, or written out in eight groups);
sockets hand out one spelling, CPython's, so an address compares equal to the one a host socket
gives. AF_INET6 sockets take and give CPython's four-tuples. Scope ids
(``%eth0`` or the tuple's fourth field) name an interface of the *host*; the modules' AT commands
have no place for one, so a nonzero one is refused rather than dropped silently.
"""
import errno
import ipaddress
import socket as _std
from typing import Optional, Tuple

from ..constants import AF_INET, AF_INET6
from ..core import validate
from ..errors import os_error
from . import arguments

MAX_FLOWINFO = 0xFFFFF  # 20 bits, as CPython checks it


def family_of(ip: str) -> int:
    """AF_INET6 for an IPv6 literal, else AF_INET."""
    return AF_INET6 if ":" in ip else AF_INET


def family_name(family: int) -> str:
    return "AF_INET6" if family == AF_INET6 else "AF_INET"


def canonical(host: str) -> str:
    """``host`` as CPython's sockets spell an address (the C library's ``inet_ntop``: lower-case,
    compressed, ``::ffff:192.0.2.1``) when it is an IP literal, else unchanged."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return _std.inet_ntop(AF_INET6, address.packed) if address.version == 6 else str(address)


def sockaddr(address: Optional[Tuple[str, int]], family: int):
    """What getpeername/getsockname/recvfrom/accept give on a socket of ``family``: ``(host, port)``,
    or ``(host, port, flowinfo, scope_id)`` for AF_INET6 (an IPv4 peer shown IPv4-mapped)."""
    if address is None:
        return None
    host, port = canonical(address[0]), address[1]
    if family != AF_INET6:
        return host, port
    if host and family_of(host) == AF_INET:
        host = f"::ffff:{host}"
    return host, port, 0, 0


def _zone_scope(zone: Optional[str]) -> int:
    """The scope id a ``%zone`` stands for: its number, or (an interface name) nonzero."""
    if zone is None:
        return 0
    return int(zone) if zone.isdigit() else -1


def destination(address, family: int, method: str) -> Tuple[str, int]:
    """``(host, port)`` from a caller's address, checked in CPython's order before the call
    itself: the host (an IP literal of the socket's family, EAFNOSUPPORT for the other one, or a
    well-formed name resolved later), the port, then for AF_INET6 flowinfo and scope id, which
    must be 0 (the modem cannot use it; EINVAL, as Linux for a scope it cannot honour)."""
    host, port, extra = arguments.address(address, method, family_name(family))
    literal = validate.ip_literal(host)
    zone = None
    if literal is not None:
        literal, zone = validate.split_scope(literal)
        if family_of(literal) != family:
            raise os_error(errno.EAFNOSUPPORT, f"{host!r} is an {'IPv6' if family == AF_INET else 'IPv4'} address; "
                                               f"this socket is {family_name(family)}")
        if family == AF_INET6 and ipaddress.IPv6Address(literal).ipv4_mapped is not None:
            raise os_error(errno.EAFNOSUPPORT, f"{host!r} is an IPv4-mapped address: the modems do not carry IPv4 "
                                               "over IPv6 sockets; use an AF_INET socket")
        host = literal
    elif host not in ("", "<broadcast>"):
        host = validate.hostname(host)
    port = arguments.port(port, method)
    if family == AF_INET6:
        flowinfo = extra[0] if extra else 0
        if not 0 <= flowinfo <= MAX_FLOWINFO:
            raise OverflowError(f"{method}(): flowinfo must be 0-{MAX_FLOWINFO}.")
        scope = validate.scope_id(extra[1]) if len(extra) > 1 else 0
        if scope or _zone_scope(zone):
            raise os_error(errno.EINVAL, f"{method}(): scope id {zone if zone is not None else scope!r}: the modem's "
                                         "AT commands cannot name an interface (use scope id 0)")
    return host, port
