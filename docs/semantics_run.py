"""What a situation of the AT-semantics pages works with: a :class:`Run` that records its steps,
and peers on 127.0.0.1 that act only when told to (so that every trace comes out the same).

A step is a usocket call (its wire and its result are shown), an event outside the program (a
peer, the module, the network: its wire is shown) or a preparation stated in words. A step ends
when the line has been quiet for :data:`QUIET` seconds and every command it carried was answered.
"""
import enum
import errno
import socket
import ssl as std_ssl
import threading
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Union

import atsock
from atsock import ssl
from fakemodem import FakeModem

from wire_trace import Masks, Tape, payload_sizes, wire_lines

QUIET = 0.15  # seconds of silence on the line that end a step


@dataclass(frozen=True)
class Variant:
    key: str           # page name
    title: str
    family: str        # "quectel" or "esp": which sentence of why applies
    dialect: str
    emulator: dict
    settings: dict
    open_call: str
    booted: str        # the last boot line: the module is listening after it


@dataclass
class Step:
    kind: str                 # "call", "local" (a call with no wire), "event" or "given"
    label: str
    lines: list = field(default_factory=list)
    outcome: Optional[str] = None
    brief: Optional[str] = None  # the outcome in a few characters, for the overview
    headline: bool = False       # the call the overview shows for the situation


Until = Union[None, str, Callable[[list], bool]]


class Run:
    """What a situation works with: the emulator, the modem, peers, and the steps it records."""

    def __init__(self, variant: Variant, fm: FakeModem, tape: Tape):
        self.variant = variant
        self.family = variant.family
        self.fm = fm
        self.tape = tape
        self.masks = Masks()
        self.modem = None
        self.steps: List[Step] = []
        self.vary_sizes = False  # set by a situation whose payload sizes depend on the run (TLS records)
        self._closers: List[Callable[[], None]] = []

    # --- steps ----------------------------------------------------------------------------------
    def given(self, text: str, action: Callable = None, until: Until = None):
        """Preparation the page states in words; its wire is not shown."""
        value = action() if action else None
        self._settle(until)
        self.tape.take()
        self.steps.append(Step("given", text))
        return value

    def event(self, text: str, action: Callable = None, until: Until = None):
        """Something outside the program happens (a peer, the module, the network); the wire is shown."""
        value = action() if action else None
        self.steps.append(Step("event", text, self._wire(until)))
        return value

    def local(self, label: str, action: Callable) -> None:
        """A call that only changes the socket on the host (a time-out, blocking): nothing to wait for."""
        action()
        self.steps.append(Step("local", label))

    def call(self, label: str, action: Callable, until: Until = None, headline: bool = False,
             complete: bool = True):
        """A usocket call: its wire and its result or error are shown; returns what it returned.
        The overview shows the ``headline`` call of a situation (by default its last). With
        ``complete`` False the step may end while a command is still running (``until`` says when)."""
        value, error = None, None
        try:
            value = action()
        except Exception as exc:  # what a call raises is part of the page
            error = exc
        lines = self._wire(until, complete)
        if error is not None:
            outcome, brief = describe_error(error)
        else:
            brief = short(value)
            outcome = f"returns `{brief}`"
        self.steps.append(Step("call", label, lines, self.masks.text(outcome), self.masks.text(brief), headline))
        return value

    def _settle(self, until: Until, complete: bool = True) -> None:
        if isinstance(until, str):
            text = until
            until = lambda records: any(text in line for _, line in wire_lines(records))  # noqa: E731
        self.tape.settle(QUIET, until, complete=complete)

    def _wire(self, until: Until, complete: bool = True) -> list:
        self._settle(until, complete)
        records = self.tape.take()
        sizes = payload_sizes(records) if self.vary_sizes else set()
        return [(direction, self.masks.text(text, sizes)) for direction, text in wire_lines(records)]

    # --- things to talk to ----------------------------------------------------------------------
    def closes(self, close: Callable[[], None]) -> None:
        """``close`` runs when the situation ends, off the page."""
        self._closers.append(close)

    def open_modem(self, **extra):
        """The variant's ``open_modem`` (with ``extra`` settings on top)."""
        self.modem = atsock.open_modem(self.fm.port, dialect=self.variant.dialect, **self.variant.settings, **extra)
        return self.modem

    def socket(self, *args):
        s = self.modem.socket(*args)  # (= usocket.socket: the variants run side by side, each on its modem)
        self.closes(s.close)
        return s

    def peer(self) -> "TcpPeer":
        peer = TcpPeer(self.masks)
        self.closes(peer.close)
        return peer

    def udp_peer(self) -> "UdpPeer":
        peer = UdpPeer(self.masks)
        self.closes(peer.close)
        return peer

    def free_port(self) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return self.masks.port(probe.getsockname()[1])

    def finish(self) -> List[Step]:
        """Close what the situation left open (off the page) and hand over its steps."""
        for close in reversed(self._closers):
            close()
        self._closers.clear()
        self._settle(lambda _: not self.fm.call(self.fm.module.open_ids))  # the next situation starts clean
        self.tape.take()
        self.vary_sizes = False
        steps, self.steps = self.steps, []
        return steps


class TcpPeer:
    """A listening socket on 127.0.0.1 driven step by step: accept, send, close when told."""

    def __init__(self, masks: Masks):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(10)
        self.port = masks.port(self.listener.getsockname()[1])
        self.masks = masks
        self.conn: Optional[socket.socket] = None

    def accept(self) -> socket.socket:
        self.conn, address = self.listener.accept()
        self.masks.port(address[1])
        self.conn.settimeout(10)
        return self.conn

    def read_all(self) -> bytes:
        """What arrived so far (so that closing sends a FIN, not a reset for unread bytes)."""
        self.conn.setblocking(False)
        data = b""
        try:
            while True:
                chunk = self.conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except BlockingIOError:
            pass
        self.conn.settimeout(10)
        return data

    def hang_up(self, last: bytes = b"") -> None:
        """Send ``last`` and close the connection (with a FIN: what arrived is read first)."""
        if last:
            self.conn.sendall(last)
        self.read_all()
        self.conn.close()
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.hang_up()
        self.listener.close()


class UdpPeer:
    def __init__(self, masks: Masks):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = masks.port(self.sock.getsockname()[1])
        self.masks = masks
        self.last_sender = None

    def receive(self) -> bytes:
        data, self.last_sender = self.sock.recvfrom(65536)
        self.masks.port(self.last_sender[1])
        return data

    def reply(self, data: bytes) -> None:
        self.sock.sendto(data, self.last_sender)

    def close(self) -> None:
        self.sock.close()


# --- how results are written --------------------------------------------------------------------

_EAI = {getattr(socket, name): name for name in dir(socket) if name.startswith("EAI_")}


def describe_error(exc: BaseException):
    code = exc.args[0] if isinstance(exc, OSError) and exc.args and isinstance(exc.args[0], int) else None
    name = (_EAI if isinstance(exc, socket.gaierror) else errno.errorcode).get(code, str(code))
    detail = exc.args[1] if isinstance(exc, OSError) and len(exc.args) > 1 else str(exc)
    if code is None:
        return f"raises `{type(exc).__name__}`: {detail}", type(exc).__name__
    return f"raises `{type(exc).__name__}` **{name}**: {detail}", name


def short(value) -> str:
    """A result as the page shows it: long bytes cut, enums by name, objects by their class."""
    if isinstance(value, (bytes, bytearray)):
        return repr(value) if len(value) <= 24 else f"{bytes(value[:8])!r}… ({len(value)} bytes)"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(short(item) for item in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, enum.Enum):
        return value.name
    if value is None or isinstance(value, (int, float, str)):
        return repr(value)
    return f"<{type(value).__name__}>"


class TlsPeer:
    """A TLS server for "tls.test" with a throw-away CA (trustme); answers when told to."""

    def __init__(self, masks: Masks):
        import trustme  # (the test extra) imported here: only this situation needs it
        self.ca = trustme.CA(key_type=trustme.KeyType.ECDSA)  # a small certificate: the flight fits one read
        server = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
        server.num_tickets = 0  # no session tickets after the handshake: they would arrive at any time
        self.ca.issue_cert("tls.test").configure_cert(server)
        self.tcp = TcpPeer(masks)
        self.port = self.tcp.port
        self.server = server
        self.conn = None
        self.ready = threading.Event()
        self.got = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        raw = self.tcp.accept()
        self.conn = self.server.wrap_socket(raw, server_side=True)
        self.got = self.conn.recv(100)
        self.ready.set()

    def client_context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=self.ca.cert_pem.bytes())
        return context

    def answer(self, data: bytes) -> None:
        self.ready.wait(10)
        self.conn.sendall(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.tcp.conn = None  # (the TLS socket owned it)
        self.tcp.close()
