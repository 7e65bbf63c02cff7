"""A modem TCP connection as an asyncio transport, on the caller's loop.

Reading: a pump on the engine's side (:mod:`.pump`) hands what arrives to the protocol;
``pause_reading`` stops it (the engine then stops fetching once its own buffer is full, and the
module holds the rest: back-pressure reaches the peer). Writing: ``write`` buffers and starts a
send of everything buffered when none is under way; the protocol is paused above the high-water
mark, as CPython's transports do. ``close`` sends
what is buffered, then closes the connection; ``connection_lost`` follows. The modules cannot
half-close: ``can_write_eof()`` is False.
"""
import asyncio
import logging
from collections import deque
from typing import Deque, Optional

from ..core.connection import Connection
from ..surface import inet, receiving
from . import bridge
from .pump import ReadPump

log = logging.getLogger("atsock.asyncio")

READ_SIZE = 256 * 1024  # the most one piece carries (as CPython's transports read)
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


def as_bytes(data) -> bytes:
    """Bytes from a bytes-like object, or a str as MicroPython's streams take one."""
    if isinstance(data, str):
        return data.encode()
    return bytes(memoryview(data).cast("B"))


def feed(protocol, data: bytes) -> None:
    """Hand ``data`` to a protocol, plain or buffered."""
    if not isinstance(protocol, asyncio.BufferedProtocol):
        protocol.data_received(data)
        return
    view = memoryview(data)
    while view:
        buffer = memoryview(protocol.get_buffer(len(view))).cast("B")
        size = min(len(buffer), len(view))
        if not size:
            raise RuntimeError("get_buffer() returned an empty buffer")
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]


class StreamTransport(asyncio.Transport):
    def __init__(self, loop: asyncio.AbstractEventLoop, modem, conn: Connection, sock,
                 protocol: asyncio.BaseProtocol, start: bool = True):
        super().__init__({"socket": sock, "peername": inet.sockaddr(conn.remote, sock.family),
                          "sockname": sock.getsockname()})
        self._loop = loop
        self._modem = modem
        self._conn = conn
        self._sock = sock                      # the connection's atsock socket (closes it if dropped)
        self._protocol = protocol
        self._out = bytearray()                # written, not handed to the engine yet
        self._in_flight = 0                    # handed to the engine, not confirmed yet
        self._high, self._low = HIGH_WATER, LOW_WATER
        self._writing_paused = False           # the protocol was told to pause writing
        self._reading_paused = False
        self._held: Deque[tuple] = deque()     # (data, error) received, not passed on yet
        self._pump = ReadPump(modem, lambda: receiving.stream(modem.core, conn, READ_SIZE, None, False),
                              self._arrived, last=lambda data: not data)
        self._closing = False
        self._lost = False                     # connection_lost was called
        if start:
            self.start()

    def start(self) -> None:
        """Tell the protocol, then begin reading (a TLS layer calls this once it is in place)."""
        self._loop.call_soon(self._protocol.connection_made, self)
        self._pump.start()

    # --- reading --------------------------------------------------------------------------------
    def _arrived(self, data: Optional[bytes], error: Optional[BaseException]) -> None:
        self._pump.taken(data)
        if self._lost or self._closing:
            return  # (the read that our own close ended fails with EBADF: nothing to tell)
        self._held.append((data, error))
        self._hand_on()

    def _hand_on(self) -> None:
        """Pass on what arrived, in order, while reading is on (a piece the pump sent before a
        pause waits here, and goes before anything newer after the resume)."""
        while self._held and not self._reading_paused and not self._lost and not self._closing:
            data, error = self._held.popleft()
            if error is not None:
                self._fail(error)
            else:
                self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if not data:
            if self._protocol.eof_received():
                return  # the protocol keeps the connection open (it may still write)
            self.close()
            return
        try:
            feed(self._protocol, data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fail(exc, "the protocol failed on received data")

    def pause_reading(self) -> None:
        if not self._reading_paused:
            self._reading_paused = True
            self._pump.pause()

    def resume_reading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        self._loop.call_soon(self._hand_on)
        self._pump.resume()

    def is_reading(self) -> bool:
        return not self._reading_paused and not self._closing and not self._lost

    # --- writing --------------------------------------------------------------------------------
    def write(self, data) -> None:
        data = as_bytes(data)
        if not data or self._lost or self._closing:
            return  # as CPython: writing to a closed transport is ignored
        self._out += data
        self._send()
        self._check_pause()

    def writelines(self, list_of_data) -> None:
        for data in list_of_data:
            self.write(data)

    def _send(self) -> None:
        if self._in_flight or not self._out or self._lost:
            return
        data = bytes(self._out)
        self._out.clear()
        self._in_flight = len(data)
        bridge.send(self._modem, self._conn, data).add_done_callback(lambda done: self._sent(done, data))

    def _sent(self, future: asyncio.Future, data: bytes) -> None:
        self._in_flight = 0
        error = None if future.cancelled() else future.exception()
        if self._lost or future.cancelled():
            return
        if error is not None:
            self._fail(error)
            return
        taken = future.result()
        if taken < len(data):  # refused part-way: the next send raises why
            self._out[0:0] = data[taken:]
        self._check_resume()
        if self._out:
            self._send()
        elif self._closing:
            self._shut()

    def get_write_buffer_size(self) -> int:
        return len(self._out) + self._in_flight

    def get_write_buffer_limits(self):
        return self._low, self._high

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._check_pause()

    def _check_pause(self) -> None:
        if not self._writing_paused and self.get_write_buffer_size() > self._high:
            self._writing_paused = True
            self._call_protocol("pause_writing")

    def _check_resume(self) -> None:
        if self._writing_paused and self.get_write_buffer_size() <= self._low:
            self._writing_paused = False
            self._call_protocol("resume_writing")

    def _call_protocol(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({"message": f"protocol.{name}() failed", "exception": exc,
                                               "transport": self, "protocol": self._protocol})

    def can_write_eof(self) -> bool:
        return False  # the modules close both directions at once

    # --- closing --------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Send what is buffered, then close the connection and tell the protocol."""
        if self._closing or self._lost:
            return
        self._closing = True
        if not self._in_flight and not self._out:
            self._shut()

    def abort(self) -> None:
        self._out.clear()
        self._closing = True
        self._shut()

    def _shut(self, error: Optional[BaseException] = None) -> None:
        if self._lost:
            return
        self._lost = True
        self._out.clear()
        self._pump.resume()  # a paused pump wakes, meets the closed connection and ends
        self._conn.notifier.close()
        # connection_lost (and so wait_closed) once the module let go: its id is free again then
        bridge.close_then(self._modem, self._conn, lambda: self._connection_lost(error))

    def _connection_lost(self, error: Optional[BaseException]) -> None:
        try:
            self._protocol.connection_lost(error)
        finally:
            self._protocol = None

    def _fail(self, error: BaseException, message: str = "connection failed") -> None:
        """The connection cannot go on: the protocol learns why in ``connection_lost``. A socket
        error is the protocol's to report (CPython's transports log it only in debug mode)."""
        if isinstance(error, OSError):
            log.debug("%r: %s", self, error)
        else:
            self._loop.call_exception_handler({"message": message, "exception": error, "transport": self,
                                               "protocol": self._protocol})
        self._shut(error)

    # --- the rest -------------------------------------------------------------------------------
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def __repr__(self) -> str:
        state = "closed" if self._lost else "closing" if self._closing else "open"
        return f"<atsock StreamTransport {state} {self._conn!r}>"
