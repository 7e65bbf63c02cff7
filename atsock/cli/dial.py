"""A modem socket connected to a host and port, for everything on the command line that connects."""
from ..constants import AF_INET
from ..standard import socket as standard_socket


def connect(modem, host: str, port: int, timeout: float):
    """A blocking modem socket (with CPython's object surface: ``http.client`` reads through its
    ``makefile``) connected to (host, port) within ``timeout``; names are resolved by the modem,
    and an IPv4 address is preferred. An IPv6 destination needs the driver's AF_INET6
    sockets (EAFNOSUPPORT where it has none: SOCKS answers "address type not supported").

    Where the module runs a connect to its end (ESP-AT), giving up early would not free it: the
    connect waits for the module's own verdict, and another client's connect queued behind it
    then goes out instead of timing out unsent."""
    infos = modem.getaddrinfo(host, port)
    family, *_, address = next((info for info in infos if info[0] == AF_INET), infos[0])
    sock = standard_socket.socket(family, modem=modem)
    try:
        sock.settimeout(None if modem.connect_holds_module else timeout)
        sock.connect(address)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock
