"""A modem socket connected to a host and port, for everything on the command line that connects."""
import errno

from ..constants import AF_INET


def connect(modem, host: str, port: int, timeout: float):
    """A blocking modem socket connected to (host, port) within ``timeout``; names are resolved by the modem."""
    infos = modem.getaddrinfo(host, port)
    family, *_, address = next((info for info in infos if info[0] == AF_INET), infos[0])
    sock = _socket_for(modem, family)
    try:
        sock.settimeout(timeout)
        sock.connect(address[:2])
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def _socket_for(modem, family: int):
    if family != AF_INET:
        try:
            return modem.socket(family)
        except OSError as exc:  # a driver without IPv6 sockets still reaches IPv6 literals over AF_INET
            if exc.errno != errno.EAFNOSUPPORT:
                raise
    return modem.socket()
