"""One modem connection as the socket core keeps it: what it is, where it stands, what it holds.

A :class:`Connection` is the core's record of one socket's life on the module: its kind, the
module's id for it while it holds one (a Quectel connectID, an ESP link id), its lifecycle machine,
the pending error, and its inbox. Only the socket core changes it (on the engine's loop thread);
the socket layer reads it and waits on it.
"""
from enum import Enum
from typing import Optional, Tuple, Union

from ..constants import AF_INET
from .inbox import AcceptQueue, DatagramInbox, StreamInbox
from .lifecycle import SocketLifecycle, SocketState
from .readiness import Notifier

Address = Tuple[str, int]
S = SocketState


class Kind(str, Enum):
    TCP = "tcp"
    UDP = "udp"
    LISTENER = "listener"


class Connection:
    def __init__(self, kind: Kind):
        self.kind = kind
        self.id: Optional[int] = None          # the module's id, while the module holds it for us
        self.life = SocketLifecycle()
        self.allows = self.life.allows  # allows(op): may it do ``op`` now? (asked before every exchange)
        self.inbox: Union[StreamInbox, DatagramInbox, AcceptQueue] = _inbox_for(kind)
        self.error: Optional[OSError] = None   # why it failed; raised once the inbox is empty
        self.send_error: Optional[OSError] = None  # why sending stopped; receiving may go on
        self.send_full = False  # the module's send buffer was full when a send gave up waiting
        self.connect_error: Optional[OSError] = None  # verdict of a non-blocking connect
        self.remote: Optional[Address] = None
        self.family = AF_INET                  # AF_INET6: the dialect opens it for IPv6 peers
        self.local_port = 0
        self.keepalive: Optional[int] = None   # TCP keepalive idle minutes asked for (0: off)
        self.tls = None  # an atsock.tls.module.ModuleTlsRequest when the module does the TLS
        self.notifier = Notifier(self.readiness)
        # what the module has told about received data that is not fetched yet (passive receive)
        self.module_has_data = False
        self.peer_finished = False
        # a close notice that came while the open was under way, applied once it succeeded
        self.closed_early = False
        self.closed_early_released = False
        self.data_mode_wanted = False  # connect() goes on into data mode (the socket's data_mode() block)
        self.data_session = None       # an atsock.core.transparent.DataSession while it is in data mode
        self.life.add_listener(lambda old, new: self.changed())

    @property
    def state(self) -> SocketState:
        return self.life.state

    def become(self, kind: Kind, backlog: int = 1) -> None:
        """A fresh TCP socket turns into a listener (or back) before it is opened."""
        self.kind = kind
        self.inbox = AcceptQueue(backlog) if kind is Kind.LISTENER else _inbox_for(kind)

    @property
    def readable(self) -> bool:
        return self.error is not None or self.inbox.readable

    @property
    def buffered(self) -> int:
        return self.inbox.buffered

    def readiness(self) -> Tuple[bool, bool]:
        """What its descriptor tells: (readable, writable).

        Readable while data, end of stream, a connection to accept or an error waits. Writable while
        a send returns at once: connected or bound with room in the module, or a send that fails
        straight away (the connect failed, the peer closed, the connection failed). A fresh TCP
        socket, one still connecting, and a listener are not writable."""
        state = self.state
        readable = state in (S.CLOSED, S.FAILED) or self.readable or self.connect_error is not None
        if state in (S.CONNECTED, S.BOUND):
            writable = not self.send_full
        elif state is S.FRESH:
            writable = self.kind is Kind.UDP or self.connect_error is not None
        else:
            writable = state in (S.PEER_CLOSED, S.FAILED)
        return readable, writable

    def changed(self) -> None:
        self.notifier.notify()

    async def wait_change(self) -> None:
        await self.notifier.wait()

    def __repr__(self) -> str:
        return f"<Connection {self.kind.value} id={self.id} {self.state.value}>"


def _inbox_for(kind: Kind):
    if kind is Kind.UDP:
        return DatagramInbox()
    if kind is Kind.LISTENER:
        return AcceptQueue(1)
    return StreamInbox()
