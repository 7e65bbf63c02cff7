"""The server side of SOCKS5 (RFC 1928): no-authentication method, CONNECT only.

Reads run on a blocking host socket with a timeout, so a client that stops half-way through the
greeting gives up its thread instead of keeping it.
"""
import errno
import ipaddress
import socket
import struct
from typing import Tuple

VERSION = 5
NO_AUTH, NO_ACCEPTABLE = 0x00, 0xFF
CONNECT = 0x01
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 0x01, 0x03, 0x04

SUCCEEDED = 0x00
GENERAL_FAILURE = 0x01
NETWORK_UNREACHABLE = 0x03
HOST_UNREACHABLE = 0x04
CONNECTION_REFUSED = 0x05
TTL_EXPIRED = 0x06
COMMAND_NOT_SUPPORTED = 0x07
ADDRESS_TYPE_NOT_SUPPORTED = 0x08

_REPLY_FOR_ERRNO = {
    errno.ECONNREFUSED: CONNECTION_REFUSED,
    errno.ENETUNREACH: NETWORK_UNREACHABLE, errno.ENETDOWN: NETWORK_UNREACHABLE,
    errno.EHOSTUNREACH: HOST_UNREACHABLE, errno.EHOSTDOWN: HOST_UNREACHABLE,
    errno.ETIMEDOUT: HOST_UNREACHABLE,
    errno.EAFNOSUPPORT: ADDRESS_TYPE_NOT_SUPPORTED,
}


class SocksError(Exception):
    """The request cannot be served; ``code`` is the reply to send (None: say nothing, just close)."""

    def __init__(self, code, reason: str):
        super().__init__(reason)
        self.code = code


def reply_code(exc: BaseException) -> int:
    """The SOCKS reply for a failed lookup or connect through the modem."""
    if isinstance(exc, socket.gaierror):
        return HOST_UNREACHABLE
    return _REPLY_FOR_ERRNO.get(getattr(exc, "errno", None), GENERAL_FAILURE)


def reply(code: int) -> bytes:
    """A reply with BND.ADDR 0.0.0.0:0 (the modem does not say which local address it used)."""
    return struct.pack("!BBBB4sH", VERSION, code, 0, ATYP_IPV4, b"\0\0\0\0", 0)


def _exact(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        piece = sock.recv(count - len(data))
        if not piece:
            raise SocksError(None, "client closed during the SOCKS handshake")
        data += piece
    return bytes(data)


def negotiate(sock: socket.socket) -> Tuple[str, int, int]:
    """Greeting, method choice, request: returns (host, port, address type). Raises SocksError."""
    version, count = _exact(sock, 2)
    if version != VERSION:
        raise SocksError(None, f"not a SOCKS5 client (version {version})")
    if NO_AUTH not in _exact(sock, count):
        sock.sendall(bytes((VERSION, NO_ACCEPTABLE)))
        raise SocksError(None, "client offers no method this proxy takes (only no-authentication)")
    sock.sendall(bytes((VERSION, NO_AUTH)))
    version, command, _, atyp = _exact(sock, 4)
    if version != VERSION:
        raise SocksError(GENERAL_FAILURE, f"bad request version {version}")
    if atyp == ATYP_IPV4:
        host = str(ipaddress.IPv4Address(_exact(sock, 4)))
    elif atyp == ATYP_IPV6:
        host = str(ipaddress.IPv6Address(_exact(sock, 16)))
    elif atyp == ATYP_DOMAIN:
        raw = _exact(sock, _exact(sock, 1)[0])
        try:
            host = raw.decode("ascii")
        except UnicodeDecodeError:
            raise SocksError(HOST_UNREACHABLE, f"host name {raw!r} is not ASCII") from None
    else:
        raise SocksError(ADDRESS_TYPE_NOT_SUPPORTED, f"address type {atyp} is not supported")
    (port,) = struct.unpack("!H", _exact(sock, 2))
    if command != CONNECT:
        raise SocksError(COMMAND_NOT_SUPPORTED, f"command {command} is not supported (CONNECT only)")
    return host, port, atyp
