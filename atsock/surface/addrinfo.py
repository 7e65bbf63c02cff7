"""``getaddrinfo`` and ``inet_pton``/``inet_ntop``: addresses as usocket hands them out.

Names are resolved by the modem (its own DNS over its own data context), and only addresses of a
family the modem can use are given; IP literals are answered here without a single AT command. Results are MicroPython-shaped: one 5-tuple per address, of the
socket type asked for (``SOCK_STREAM`` when none is).
"""
import errno
import socket as _std
from typing import List

from ..constants import AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM
from ..core import validate
from ..errors import os_error
from .inet import canonical, family_name, family_of

AI_PASSIVE = _std.AI_PASSIVE
AI_CANONNAME = _std.AI_CANONNAME
AI_NUMERICHOST = _std.AI_NUMERICHOST
AI_NUMERICSERV = _std.AI_NUMERICSERV

_PROTO_FOR_TYPE = {SOCK_STREAM: IPPROTO_TCP, SOCK_DGRAM: IPPROTO_UDP, SOCK_RAW: 0}
_TYPE_FOR_PROTO = {IPPROTO_TCP: SOCK_STREAM, IPPROTO_UDP: SOCK_DGRAM}


def _gaierror(code: int, text: str) -> OSError:
    return _std.gaierror(code, text)


def _port(port, flags: int) -> int:
    if port is None:
        return 0
    if isinstance(port, (str, bytes)):
        text = port.decode() if isinstance(port, bytes) else port
        if text.isdigit():
            return validate.port_number(int(text))
        if flags & AI_NUMERICSERV:
            raise _gaierror(_std.EAI_NONAME, f"service {text!r} is not a number")
        try:
            return _std.getservbyname(text)  # a local table lookup, no network
        except OSError:
            raise _gaierror(_std.EAI_SERVICE, f"unknown service {text!r}") from None
    return validate.port_number(port)


def _v6_sockaddr(ip: str, port: int) -> tuple:
    """``(address, port, flowinfo, scope_id)`` with the zone as a number and the address spelt by
    the C library, as CPython gives them (``ipaddress`` spells IPv4-mapped and -compatible
    addresses otherwise, and a mapped one another way again from Python 3.13 on)."""
    address, scope = validate.split_scope(ip)
    address = canonical(address)
    if scope is None:
        return (address, port, 0, 0)
    if scope.isdigit():
        return (address, port, 0, int(scope))
    try:
        return (address, port, 0, _std.if_nametoindex(scope))  # the host's own table, no network
    except OSError:
        raise _gaierror(_std.EAI_NONAME, f"no interface named {scope!r} for {ip!r}") from None


def lookup(modem, name: str, af: int = 0) -> List[str]:
    """The modem's addresses for ``name``: of family ``af``, or with ``af`` 0 of every family its
    sockets can use (an AAAA answer is no use to a modem without IPv6). EAI_ADDRFAMILY when the
    modem cannot use ``af`` or the name has no address of it."""
    if af:
        refusal = modem.family_refusal(af)
        if refusal is not None:
            raise _gaierror(_std.EAI_ADDRFAMILY, f"{name!r}: {refusal}")
    found = [ip for ip in modem.resolve(name, af)
             if (family_of(ip) == af if af else modem.family_refusal(family_of(ip)) is None)]
    if not found and af:
        raise _gaierror(_std.EAI_ADDRFAMILY, f"{name!r} has no {family_name(af)} address")
    if not found:
        raise _gaierror(_std.EAI_NONAME, f"{name!r} has no address of a family the modem can use")
    return found


def resolve_addrinfo(modem_of, host, port, af=0, type=0, proto=0, flags=0):
    """``modem_of()`` gives the modem that resolves names; IP literals never need one."""
    port = _port(port, flags)
    if af not in (0, AF_INET, AF_INET6):
        raise _gaierror(_std.EAI_FAMILY, f"address family {af} not supported")
    if type and type not in _PROTO_FOR_TYPE:
        raise _gaierror(_std.EAI_SOCKTYPE, f"socket type {type} not supported")
    if proto and proto not in _TYPE_FOR_PROTO:
        raise _gaierror(_std.EAI_SERVICE, f"protocol {proto} not supported")
    if type and proto and _TYPE_FOR_PROTO[proto] != type:
        raise _gaierror(_std.EAI_SOCKTYPE, f"protocol {proto} does not go with socket type {type}")
    socktype = type or _TYPE_FOR_PROTO.get(proto, SOCK_STREAM)
    protocol = proto or _PROTO_FOR_TYPE[socktype]

    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host == "":  # no name at all (CPython: EAI_NONAME); None is "this host"
        raise _gaierror(_std.EAI_NONAME, "an empty host name names no host")
    if host is None:
        addresses = ["0.0.0.0" if flags & AI_PASSIVE else "127.0.0.1"]
    elif validate.ip_literal(host) is not None:
        addresses = [validate.ip_literal(host)]
    elif flags & AI_NUMERICHOST:
        raise _gaierror(_std.EAI_NONAME, f"{host!r} is not a numeric address")
    else:
        addresses = lookup(modem_of(), validate.hostname(host), af)

    canonname = host if flags & AI_CANONNAME and host else ""
    results = []
    for ip in addresses:
        family = family_of(ip)
        if af and family != af:
            continue
        sockaddr = _v6_sockaddr(ip, port) if family == AF_INET6 else (ip, port)
        results.append((family, socktype, protocol, canonname, sockaddr))
    if not results:
        raise _gaierror(_std.EAI_NONAME if af == 0 else _std.EAI_ADDRFAMILY,
                        f"{host!r} has no address of family {af}")
    return results


def inet_pton(af: int, text: str) -> bytes:
    """CPython's, whose refusals these are; text that is no address is OSError with MicroPython's
    EINVAL (CPython's carries no errno)."""
    try:
        return _std.inet_pton(af, text)
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise os_error(errno.EINVAL, f"{text!r} is not an address of family {af}") from None


inet_ntop = _std.inet_ntop  # (a packed address of the wrong length is ValueError, as in CPython)
