"""What a dialect provides: its AT text and the parsing of what its module answers.

The life of a connection (ids, opening, sending in chunks, draining, accepting, closing, failing)
belongs to :class:`atsock.core.socketcore.SocketCore`, once for every module. A dialect supplies:

* :class:`Dialect`: bring-up, name lookup, and the URC handlers that tell the core what happened
  (``core.data_waiting``, ``core.peer_closed``, ``core.incoming``...) or report trouble;
* :class:`SocketCommands`: one coroutine per exchange with the module (open, fetch once, close),
  each writing its command and parsing the answer, nothing more; a send chunk as the command to
  write (:meth:`SocketCommands.send_exchange`) and the verdict on its answer
  (:meth:`SocketCommands.send_outcome`), so that the core can chain chunks without a task switch;
  likewise a fetch as one command and the parsing of its answer (:meth:`SocketCommands.fetch_exchange`),
  so that the drain chains its fetches.

A new module family (a SIMCom ``CIPOPEN`` dialect, say) is a package in ``modems/`` with these two
classes, registered with :func:`atsock.registry.register`.
"""
import asyncio
import enum
import errno
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from ..constants import AF_INET
from ..errors import os_error
from ..wire.atcmd import CommandLine
from ..wire.engine import Engine
from ..wire.framing import PayloadRule
from ..wire.linerate import Line, LineCommands
from ..wire.rawstream import RawWords
from .lifecycle import ModemLifecycle, ModemState

Address = Tuple[str, int]


class SendOutcome(enum.Enum):
    SENT = "sent"   # the module took the chunk
    FULL = "full"   # the module's send buffer is full: offer the same bytes again later
    BUSY = "busy"   # the module is busy: offer them again after a short pause (at most busy_retries times)


@dataclass(frozen=True)
class Exchange:
    """A command with a payload, as :meth:`Engine.submit` takes it (the payload is the chunk)."""

    text: CommandLine
    timeout: float
    extra_finals: FrozenSet[str] = frozenset()
    not_final: FrozenSet[str] = frozenset()


@dataclass(frozen=True)
class FetchExchange:
    """A fetch as one command, as :meth:`Engine.submit` takes it, and what its answer means:
    ``parse(response)`` gives (data, sender), None when the module holds nothing more, or raises
    OSError. A final in ``retry`` (ESP-AT's ``busy p...``) asks for the same command again later.
    ``explain(response)``, where given, is awaited for an answer that is not ``OK``: the error,
    when finding its cause takes another exchange (Quectel asks ``AT+QIGETERROR``)."""

    text: CommandLine
    timeout: float
    response_prefixes: Tuple[str, ...]
    parse: Callable[[object], Optional[Tuple[bytes, Optional[Address]]]]
    retry: FrozenSet[str] = frozenset()
    explain: Optional[Callable[[object], Awaitable[OSError]]] = None


class DataModeCommands:
    """A module's transparent mode, as :class:`atsock.core.transparent.DataSession` drives it.

    The session holds the line, keeps its timing, escapes with ``+++`` between guard times and
    proves where the mode ended; the dialect supplies the commands around that and the module's
    words. Each coroutine runs its commands with ``session.command(...)`` and the one whose answer
    hands the line over with ``session.enter_command(...)``.
    """

    guard = 1.0                      # seconds of silence the module needs before and after "+++"
    settle = 0.0                     # seconds to leave the module after it left, before a command
    switches_open = True             # True: an open connection switches; False: data mode opens its own
    escape_answer = b""              # what the module prints once "+++" took effect (it must print one)

    def words(self, conn) -> RawWords:
        """The module's words that end data mode by themselves (the peer closed the connection,
        the module rebooted): see :class:`atsock.wire.rawstream.RawWords`."""
        raise NotImplementedError

    async def enter(self, session) -> None:
        """Switch ``session.conn``, an open connection, to data mode (``switches_open``)."""
        raise NotImplementedError

    async def open(self, session, ip: str, port: int) -> None:
        """Open ``session.conn`` to ``ip``:``port`` straight into data mode (not ``switches_open``)."""
        raise NotImplementedError

    async def resume(self, session) -> None:
        """Back into data mode after an escape that proved the module had not left it (the peer's
        bytes looked like the module's close word); raises OSError if the connection cannot."""
        await self.enter(session)

    async def alive(self, session) -> bool:
        """Whether the module still holds ``session.conn``'s connection (asked in command mode, after
        a close word, to check that it was the module's)."""
        raise NotImplementedError

    async def leave(self, session, peer_closed: bool) -> None:
        """Commands once the line is back in command mode (the module's other settings restored)."""


class SocketCommands:
    """The exchanges the socket core runs; every method raises ``OSError`` with the module's verdict.

    ``guard`` arguments are passed on to :meth:`Engine.command`: the core's check, made just before
    the command is written, that the connection may still use its id.
    """

    max_links = 0               # ids the module has
    send_chunk = 0              # bytes one send command carries
    max_datagram = 0
    push_limit: Optional[int] = None  # unread bytes allowed when the module pushes data unasked
    abortable_open = True       # False: an open runs to its end even when its caller gave up
    listener_takes_id = True    # False: the module's one server has no id of its own (ESP-AT)
    busy_retries = 0            # how often a BUSY send is offered again before EBUSY
    data_mode: Optional[DataModeCommands] = None  # the module's transparent mode, if the dialect drives it

    async def open_client(self, conn, ip: str, port: int, local_port: int) -> None:
        """Connect; with ``conn.tls`` set (a :class:`atsock.tls.module.ModuleTlsRequest`), the
        module's own TLS runs over the connection and every later exchange carries plaintext."""
        raise NotImplementedError

    def check_tls(self, request) -> None:
        """Raise ``OSError`` if the module cannot make a TLS connection as ``request`` asks (it
        is called before an id is taken); by default a module has no TLS of its own."""
        raise os_error(errno.EOPNOTSUPP, "this modem has no TLS of its own: wrap the socket without module_tls "
                                         "(host TLS)")

    async def open_listener(self, conn, port: int, backlog: int) -> None:
        raise NotImplementedError

    async def open_udp(self, conn, port: int, peer: Optional[Address]) -> None:
        raise NotImplementedError

    async def release_failed_open(self, slot_id: int) -> None:
        """Whatever makes the module let go of an id whose open failed or was abandoned."""
        raise NotImplementedError

    def send_exchange(self, conn, chunk: bytes, dest: Optional[Address]) -> Exchange:
        """The command that sends ``chunk`` (a datagram to ``dest``); raises OSError for a chunk
        the module cannot take (EMSGSIZE)."""
        raise NotImplementedError

    def send_outcome(self, conn, final: str) -> SendOutcome:
        """What the final result of a send command means; raises OSError for a refusal."""
        raise NotImplementedError

    async def fetch(self, conn, guard) -> Optional[Tuple[bytes, Optional[Address]]]:
        """One read of data the module holds; None when it has nothing left."""
        raise NotImplementedError

    def fetch_exchange(self, conn) -> Optional[FetchExchange]:
        """:meth:`fetch` as one command, where it is one: the drain then queues each fetch from the
        reader callback that parsed the one before. None (the default): the drain awaits :meth:`fetch`."""
        return None

    async def peer_address(self, slot_id: int) -> Optional[Address]:
        """The address of an accepted client, when its notice did not carry it."""
        return None

    async def close(self, slot_id: int, kind) -> None:
        """Close the connection on ``slot_id``; returns once the module confirmed the id is free."""
        raise NotImplementedError

    async def close_listener(self) -> None:
        """Stop the module's server (dialects whose listener has no id)."""
        raise NotImplementedError


class Dialect:
    """Bring-up, name lookup and URC handling of one module family."""

    name = "abstract"
    urc_prefixes: Sequence[str] = ()
    payload_rules: Sequence[PayloadRule] = ()
    command_terminator = b"\r"  # S3; ESP-AT insists on CR LF
    probe: Tuple[str, Optional[str]] = ("AT", None)  # resync probe and the line only it produces
    not_online_hint = ""  # what a socket call made before the network is up tells the user to do
    line_commands: Optional[LineCommands] = None  # its UART's rate and flow control (atsock.wire.linerate)
    state_words: Dict[str, str] = {}  # a modem state as this kind of module says it ("joining Wi-Fi")

    def __init__(self, engine: Engine, life: ModemLifecycle):
        self.engine = engine
        self.life = life
        #: the serial port's protocol when it is not the engine itself (a multiplexer under it)
        self.line: Optional[asyncio.Protocol] = None
        #: where sockets in data mode run when not on the engine (a multiplexer's channels)
        self.data_lines = None
        self.core = None  # the SocketCore, attached by the Modem once ``commands`` exists
        self.local_ip: Optional[str] = None
        self.local_ipv6: Optional[str] = None
        #: set by the Modem: ``report_trouble(kind, errno, reason, keep_connections)``
        self.report_trouble: Callable[[str, int, str, bool], None] = lambda *args: None
        #: set by the Modem: ``report_progress(text)``, what bring-up is waiting for, in words
        self.report_progress: Callable[[str], None] = lambda text: None
        #: the network registration in words (:mod:`atsock.core.registration`), where the dialect has one
        self.registration: Optional[str] = None
        #: the serial line's rate and flow control (set by the Modem): bring-up finds the module
        #: with it and settles the line
        self.serial_line: Optional[Line] = None

    @property
    def online(self) -> bool:
        return self.life.state is ModemState.ONLINE

    commands: SocketCommands

    async def bring_up(self) -> None:
        raise NotImplementedError

    def family_refusal(self, family: int) -> Optional[str]:
        """Why sockets of ``family`` cannot be used now (the firmware, the data context, a setting),
        or None when they can. Connections of each family say theirs in ``conn.family``."""
        return None if family == AF_INET else f"the {self.name} dialect does not carry IPv6"

    async def resolve(self, host: str, family: int = 0) -> List[str]:
        """Addresses for ``host``; ``family`` (0, AF_INET, AF_INET6) is the one wanted, where the
        module can be asked for it (the caller filters what comes back)."""
        raise NotImplementedError

    async def shut_down(self) -> None:
        """Dialect state to settle before the port closes (the core has closed the sockets)."""

    def forget_connections(self) -> None:
        """Dialect state about connections that a trouble ended (a server, pending opens...)."""
