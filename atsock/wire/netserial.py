"""Serial ports on other machines: ``rfc2217://host:port`` (Telnet with RFC 2217's COM Port Control:
ser2net's ``telnet(rfc2217)`` accepter, labgrid's exporter) and ``socket://host:port`` (a raw TCP
serial server: ser2net's plain ``tcp`` accepter).

Both ride asyncio's own TCP transport on the engine's loop, as a local port rides its descriptor:
no reader thread, no byte queue (pyserial's RFC 2217 client queues every byte it reads, which costs
about 4 s of CPU per MiB). Telnet is undone as the pieces arrive (:mod:`atsock.wire.telnet`).

The link to the server is the cable: when the server goes away the transport is lost, as a USB
port that vanishes, and recovery opens the same URL again (:mod:`atsock.core.recovery`). A server whose
host vanished without closing anything is noticed by TCP itself: keep-alive probes while the line
is idle, and ``TCP_USER_TIMEOUT`` while bytes wait unacknowledged.
"""
import asyncio
import errno
import fcntl
import logging
import socket
import struct
import termios
import urllib.parse
from typing import Callable, Dict, Optional

from ..errors import os_error
from . import telnet

log = logging.getLogger("atsock.transport")

SCHEMES = ("rfc2217", "socket")
CONNECT_TIMEOUT = 10.0   # seconds for the TCP connection and for the server to confirm the line settings
KEEPALIVE = (10, 5, 3)   # idle seconds before the first probe, seconds between probes, probes unanswered
USER_TIMEOUT_MS = 20000  # bytes unacknowledged this long: the server's host is gone
#: the socket's send buffer: a serial line moves at most a few hundred kB/s, and what the kernel
#: holds for it is line time the data-mode clock cannot see (the kernel's own default grows to MiBs)
SEND_BUFFER = 16 * 1024
ACK_POLL = 0.005         # seconds between two looks at what the server has not acknowledged yet
#: pyserial's URL options, taken so that a URL that works with pyserial works here: the lines
#: (DTR, RTS) are left as the server opened them and modem status is not polled, so two of them
#: have nothing to switch off
_OPTIONS = {"rfc2217": {"timeout", "ign_set_control", "poll_modem", "logging"}, "socket": {"logging"}}
#: what we offer (WILL) and accept the server offering (DO in answer): 8-bit data, no go-ahead,
#: the COM port option (ours only) and the server's echo (which ser2net offers and never does)
_WE_DO = frozenset({telnet.BINARY, telnet.SGA, telnet.COM_PORT})
_THEY_DO = frozenset({telnet.BINARY, telnet.SGA, telnet.ECHO})


def is_network_url(port) -> bool:
    return isinstance(port, str) and port.partition("://")[0].lower() in SCHEMES


def parse(url: str):
    """``(scheme, host, port, timeout)``; ValueError for what pyserial would refuse as well."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if scheme not in SCHEMES or not host or not port:
        raise ValueError(f"expected {scheme or 'rfc2217'}://HOST:PORT, got {url!r}")
    timeout = CONNECT_TIMEOUT
    for name, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if name not in _OPTIONS[scheme]:
            raise ValueError(f"unknown option {name!r} in {url!r} (known: {', '.join(sorted(_OPTIONS[scheme]))})")
        if name == "timeout":
            timeout = float(values[0])
            if not 0 < timeout <= 300:
                raise ValueError(f"timeout in {url!r} must be in (0, 300] seconds")
    return scheme, host, port, timeout


async def open_network_port(loop: asyncio.AbstractEventLoop, url: str, baudrate: int,
                            protocol: asyncio.Protocol) -> "NetworkSerialTransport":
    """Connect, agree the line settings (RFC 2217), then hand the transport to ``protocol``.
    Bytes the server sends before that belong to no one (a banner, an earlier session's tail)."""
    scheme, host, port, timeout = parse(url)
    link = _Link(url, telnet.TelnetDecoder() if scheme == "rfc2217" else None)
    try:
        await asyncio.wait_for(loop.create_connection(lambda: link, host, port), timeout)
    except asyncio.TimeoutError:
        raise os_error(errno.ETIMEDOUT, f"serial server {url} did not accept a connection within {timeout:g} s") from None
    transport = NetworkSerialTransport(link)
    try:
        if scheme == "rfc2217":
            await asyncio.wait_for(transport.set_baudrate(baudrate), timeout)
    except asyncio.TimeoutError:
        transport.close()
        raise os_error(errno.ETIMEDOUT, f"serial server {url} did not confirm the line settings (RFC 2217) "
                                        f"within {timeout:g} s") from None
    except BaseException:
        transport.close()
        raise
    link.attach(protocol, transport)
    return transport


def _tune(sock: socket.socket) -> None:
    """Keep-alive, a bound on unacknowledged data (where the OS has them: Linux has all) and a
    send buffer of a serial line's size."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in zip(("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"), KEEPALIVE):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)


class _Link(asyncio.Protocol):
    """The TCP connection's protocol: Telnet taken out of the way, the rest passed to the engine."""

    def __init__(self, url: str, decoder: Optional[telnet.TelnetDecoder]):
        self.url = url
        self.decoder = decoder
        self.tcp: Optional[asyncio.Transport] = None
        self.protocol: Optional[asyncio.Protocol] = None
        self.closing = False  # closed by us: no error to report
        self.failure: Optional[Exception] = None  # why no answer will come (connection lost, RFC 2217 refused)
        self._ours: Dict[int, bool] = {}    # options we use, as agreed so far
        self._theirs: Dict[int, bool] = {}  # options the server uses
        self._answers: Dict[int, asyncio.Future] = {}  # RFC 2217 code -> the server's answer

    # --- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tcp = transport  # type: ignore[assignment]
        _tune(transport.get_extra_info("socket"))
        if self.decoder is not None:
            self.tcp.write(b"".join(telnet.negotiation(telnet.WILL, option) for option in sorted(_WE_DO)) +
                           b"".join(telnet.negotiation(telnet.DO, option) for option in (telnet.BINARY, telnet.SGA)))
            self._ours.update(dict.fromkeys(_WE_DO, True))
            self._theirs.update({telnet.BINARY: True, telnet.SGA: True})

    def data_received(self, chunk: bytes) -> None:
        if self.decoder is not None:
            chunk, events = self.decoder.feed(chunk)
            for event in events:
                self._on_event(event)
        if chunk and self.protocol is not None:
            self.protocol.data_received(chunk)

    def eof_received(self) -> bool:
        return False  # the server closed its side: close ours, connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if exc is None and not self.closing:
            exc = os_error(errno.ECONNRESET, f"serial server {self.url} closed the connection")
        if self.protocol is None:  # still agreeing the line: a server that serves one client at a time
            self._fail(os_error(errno.ECONNRESET, f"serial server {self.url} closed the connection before it "
                                                  f"confirmed the line settings (does another client hold the "
                                                  f"port?): {exc}"))
        self._fail(exc or os_error(errno.ECONNRESET, "connection closed"))
        if self.protocol is not None:
            self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.protocol is not None:
            self.protocol.pause_writing()

    def resume_writing(self) -> None:
        if self.protocol is not None:
            self.protocol.resume_writing()

    # --- ours -----------------------------------------------------------------------------------
    def attach(self, protocol: asyncio.Protocol, transport: "NetworkSerialTransport") -> None:
        self.protocol = protocol
        protocol.connection_made(transport)

    def expect(self, code: int) -> asyncio.Future:
        """The server's answer to RFC 2217 ``code`` (its value), once it comes."""
        answer = self._answers[code] = asyncio.get_running_loop().create_future()
        if self.failure is not None:
            answer.set_exception(self.failure)
        return answer

    def _on_event(self, event: telnet.Event) -> None:
        if isinstance(event, telnet.Subnegotiation):
            self._on_com_port(event)
            return
        verb, option = event.verb, event.option
        if verb in (telnet.DO, telnet.DONT):  # about an option on our side
            wanted = verb == telnet.DO and option in _WE_DO
            if verb == telnet.DONT and option == telnet.COM_PORT:
                self._fail(os_error(errno.EPROTONOSUPPORT, f"serial server {self.url} refuses RFC 2217 (it answered "
                                    "DONT COM-PORT-OPTION): use socket:// for a raw TCP server, or a "
                                    "telnet(rfc2217) accepter in ser2net"))
            self._agree(self._ours, option, wanted, telnet.WILL if wanted else telnet.WONT)
        else:  # WILL/WONT: about an option on the server's side
            wanted = verb == telnet.WILL and option in _THEY_DO
            self._agree(self._theirs, option, wanted, telnet.DO if wanted else telnet.DONT)

    def _agree(self, agreed: Dict[int, bool], option: int, wanted: bool, answer: int) -> None:
        """Answer only a change of state: RFC 854's rule against negotiation loops."""
        if agreed.get(option) is not wanted:
            agreed[option] = wanted
            self.tcp.write(telnet.negotiation(answer, option))

    def _on_com_port(self, event: telnet.Subnegotiation) -> None:
        if event.option != telnet.COM_PORT or not event.data:
            return
        code, value = event.data[0] - telnet.SERVER, event.data[1:]
        answer = self._answers.get(code)
        if answer is not None and not answer.done():
            answer.set_result(value)
        else:
            log.debug("%s: RFC 2217 notice %d %r", self.url, event.data[0], value)  # line or modem state

    def _fail(self, error: Exception) -> None:
        self.failure = self.failure or error
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(self.failure)


class NetworkSerialTransport(asyncio.Transport):
    """What the engine writes to: the port's bytes escaped as Telnet data where the server speaks it."""

    def __init__(self, link: _Link):
        super().__init__()
        self._link = link
        self._tcp = link.tcp
        self._escape: Callable = telnet.escape if link.decoder is not None else bytes
        self.baudrate: Optional[int] = None  # as the server confirmed it (RFC 2217)

    async def set_baudrate(self, baudrate: int) -> None:
        """Set the server's line to ``baudrate`` 8N1 (RFC 2217) and wait until it confirms each
        setting; the rate it applied may differ (a UART that cannot make it): that is logged."""
        if self._link.decoder is None:
            raise os_error(errno.EOPNOTSUPP, f"{self._link.url} is a raw TCP server: its line rate is its own setting")
        settings = telnet.line_settings(baudrate)
        answers = [self._link.expect(code) for code, _ in settings]
        self._tcp.write(b"".join(telnet.com_port(code, value) for code, value in settings))
        confirmed = await asyncio.gather(*answers)
        self.baudrate = int.from_bytes(confirmed[0], "big") if len(confirmed[0]) == 4 else None
        if self.baudrate != baudrate:
            log.warning("serial server %s set the line to %s baud, not %d", self._link.url, self.baudrate, baudrate)

    @property
    def line_settable(self) -> bool:
        """Whether the far port's rate and flow control can be set from here (RFC 2217 only)."""
        return self._link.decoder is not None

    async def set_flow_control(self, rtscts: bool) -> None:
        """RTS/CTS on the server's line or off (RFC 2217 SET-CONTROL: hardware flow control, or
        none); OSError(EOPNOTSUPP) where the server cannot."""
        if self._link.decoder is None:
            raise os_error(errno.EOPNOTSUPP, f"{self._link.url} is a raw TCP server: its flow control is its own "
                                             "setting")
        value = telnet.FLOW_HARDWARE if rtscts else telnet.FLOW_NONE
        answer = self._link.expect(telnet.SET_CONTROL)
        self._tcp.write(telnet.com_port(telnet.SET_CONTROL, bytes([value])))
        confirmed = await answer
        if confirmed[:1] != bytes([value]):
            raise os_error(errno.EOPNOTSUPP, f"serial server {self._link.url} keeps its flow control (it answered "
                                             f"{confirmed.hex() or 'nothing'} to RTS/CTS {'on' if rtscts else 'off'})")

    async def acknowledged(self) -> None:
        """Returns once the server's host has acknowledged every byte written (Linux's SIOCOUTQ,
        asked as TIOCOUTQ, is 0), or the connection is closing: the network's tcdrain."""
        sock = self._tcp.get_extra_info("socket")
        while not self._tcp.is_closing() and self._tcp.get_write_buffer_size() + _unacknowledged(sock):
            await asyncio.sleep(ACK_POLL)

    def write(self, data) -> None:
        if not self._tcp.is_closing():
            self._tcp.write(self._escape(data))

    def get_write_buffer_size(self) -> int:
        return self._tcp.get_write_buffer_size()

    def is_closing(self) -> bool:
        return self._tcp.is_closing()

    def close(self) -> None:
        self._link.closing = True
        self._tcp.close()

    def get_extra_info(self, name, default=None):
        return self._tcp.get_extra_info(name, default) if name != "serial" else default


def _unacknowledged(sock) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:  # closed meanwhile, or an OS without it: nothing to wait for
        return 0
