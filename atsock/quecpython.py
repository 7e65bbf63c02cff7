"""The QuecPython flavour of usocket: ``import atsock.quecpython as usocket``.

QuecPython chooses server and fixed-port clients through the protocol argument, returns the
client's address and port separately from ``accept()``, and reports a socket's TCP state with
``getsocketsta()`` (lwIP's numbering, 0-10; -1 once closed).
"""
from . import *  # noqa: F401,F403 - the flavour is the whole usocket surface plus what follows
from . import __all__ as _base_all
from .constants import AF_INET, SOCK_STREAM
from .surface.usock import socket as _socket

IPPROTO_TCP_SER = 7     # a TCP server socket (QuecPython's value)
TCP_CUSTOMIZE_PORT = 8  # a TCP client bound to a chosen local port (QuecPython's value)

# lwIP's tcp_state numbers, as getsocketsta() reports them.
CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED = 0, 1, 2, 3, 4
FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = 5, 6, 7, 8, 9, 10

_TCP_STATE = {
    "fresh": CLOSED, "connecting": SYN_SENT, "connected": ESTABLISHED, "listening": LISTEN,
    "bound": CLOSED, "peer_closed": CLOSE_WAIT, "failed": CLOSED,
}


class socket(_socket):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, **kwargs):
        if proto in (IPPROTO_TCP_SER, TCP_CUSTOMIZE_PORT):
            proto = 0  # both are TCP; what differs is how bind() and listen() are used
        super().__init__(af, type, proto, **kwargs)

    def accept(self):
        conn, address = super().accept()  # (host, port), or AF_INET6's four-tuple
        return conn, address[0], address[1]

    def getsocketsta(self) -> int:
        state = self._conn.state
        if state == "closed":
            return -1
        if state == "connecting" and self._conn.kind == "listener":
            return LISTEN
        return _TCP_STATE[state.value]


__all__ = list(_base_all) + ["IPPROTO_TCP_SER", "TCP_CUSTOMIZE_PORT", "socket"]
