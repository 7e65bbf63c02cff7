"""Open a serial port and connect it to an asyncio protocol (the engine).

Three transports share the same protocol, hence the same AT parser:

* ports with an OS descriptor (a UART, a USB ACM port, a pty) use pyserial-asyncio, which lets the
  event loop wait on the descriptor itself — no extra thread, no polling;
* serial servers on the network (``rfc2217://``, ``socket://``) use asyncio's TCP transport
  (:mod:`atsock.wire.netserial`);
* any other pyserial URL (``loop://``, ``spy://``...) gets a small reader thread that hands what
  it reads to the loop.

The descriptor and thread transports change the port's rate and RTS/CTS here and nowhere else
(``set_baudrate``, ``set_flow_control``: :mod:`atsock.wire.linerate` calls them); a network transport
has the same coroutines (:mod:`atsock.wire.netserial`).
"""
import asyncio
import errno
import logging
import os
import termios
import threading
from typing import Callable, Optional

import serial
import serial_asyncio

from ..errors import os_error
from . import port_holders
from .netserial import NetworkSerialTransport, is_network_url, open_network_port
from .readpacing import ReadPacer

log = logging.getLogger("atsock.transport")

READ_CHUNK = 65536


def _has_descriptor(port: serial.SerialBase) -> bool:
    try:
        return isinstance(port.fileno(), int)
    except Exception:
        return False


async def open_serial(loop: asyncio.AbstractEventLoop, url, baudrate: int,
                      protocol_factory: Callable[[], asyncio.Protocol]):
    """``url`` is a device path or pyserial URL, or an already open pyserial port."""
    if is_network_url(url):
        protocol = protocol_factory()
        return await open_network_port(loop, url, baudrate, protocol), protocol
    if isinstance(url, serial.SerialBase):
        port = url
        port.timeout = 0
    else:
        port = open_port(url, baudrate)
    port.reset_input_buffer()  # whatever waited there belongs to an earlier session
    if _has_descriptor(port):
        protocol = protocol_factory()
        return DescriptorTransport(loop, protocol, port), protocol
    protocol = protocol_factory()
    return ThreadedSerialTransport(loop, protocol, port), protocol


#: what the OS said about a port it could not open -> (errno, words); the OSError names the port as
#: its ``filename``, so whoever shows it can tell a port's problem from a module's
_OPEN_ERRORS = {errno.ENOENT: "no such serial port", errno.ENODEV: "no such serial port",
                errno.ENXIO: "no such serial port", errno.EACCES: "no permission to open the serial port",
                errno.EPERM: "no permission to open the serial port"}


def open_port(url: str, baudrate: int, exclusive: bool = True) -> serial.SerialBase:
    """Open ``url``; a device path exclusively (two programs on one modem spoil each other's
    answers), and if another program holds it, fail with EBUSY naming that program. A port that
    does not exist or may not be opened is an OSError with the port as its ``filename``."""
    if "://" in str(url):
        return serial.serial_for_url(url, baudrate=baudrate, timeout=0)
    try:
        return serial.Serial(url, baudrate=baudrate, timeout=0, exclusive=exclusive or None)
    except serial.SerialException as exc:
        if exc.errno in _OPEN_ERRORS:
            raise OSError(exc.errno, _OPEN_ERRORS[exc.errno], str(url)) from None
        if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
            raise
    who = port_holders.describe(url)
    raise os_error(errno.EBUSY, f"serial port {url} is busy" + (f": {who}" if who else " (another program has it open)"))


async def sent_by_os(transport: asyncio.BaseTransport) -> bool:
    """Wait until the OS has sent what the transport handed it, where it can tell (``tcdrain`` on a
    real serial device); False where it cannot: a pty (its far end reads when it likes) or a port
    without a descriptor. Then only a clock of the line's own rate knows. A serial server on the
    network is waited for until its host has acknowledged every byte; what its own buffers hold
    then is unknown, so it is False too."""
    if isinstance(transport, NetworkSerialTransport):
        await transport.acknowledged()
        return False
    fd = _descriptor(transport)
    if fd is None or _is_pty(fd):
        return False
    await asyncio.get_running_loop().run_in_executor(None, termios.tcdrain, fd)
    return True


def _descriptor(transport: asyncio.BaseTransport) -> Optional[int]:
    port = transport.get_extra_info("serial")
    return port.fileno() if port is not None and _has_descriptor(port) else None


def _is_pty(fd: int) -> bool:
    try:
        return os.ttyname(fd).startswith("/dev/pts/")
    except OSError:
        return True  # not a terminal the OS names: nothing tells when its bytes left


class LineControl:
    """The rate and RTS/CTS of the pyserial port under a transport (``serial`` in its extra info)."""

    _input_dropped = False  # set_baudrate dropped what the OS held since the last read

    @property
    def line_settable(self) -> bool:
        """Whether the port's rate can be set from here (a raw TCP serial server's is its own)."""
        return not _is_raw_tcp(self.get_extra_info("serial"))

    async def set_baudrate(self, baudrate: int) -> None:
        """The port to ``baudrate``; what the OS received at the old rate is dropped (a late answer
        to a probe at the old rate, read now, would pass for one at the new rate)."""
        port = self.get_extra_info("serial")
        if _is_raw_tcp(port):
            raise os_error(errno.EOPNOTSUPP, f"{port.portstr} is a raw TCP serial server: its line rate is its own "
                                             "setting")
        port.baudrate = baudrate
        port.reset_input_buffer()
        self._input_dropped = True  # a read the loop already found ready may now find nothing

    async def set_flow_control(self, rtscts: bool) -> None:
        """RTS/CTS on (the UART holds its output while CTS is low, and lowers RTS when its buffer
        fills) or off; OSError(EOPNOTSUPP) where the port cannot do it."""
        port = self.get_extra_info("serial")
        if _is_raw_tcp(port) or type(port).__module__.endswith("protocol_loop"):
            raise os_error(errno.EOPNOTSUPP, f"{port.portstr} has no RTS/CTS lines")
        port.rtscts = rtscts
        fd = port.fileno() if _has_descriptor(port) else None
        if rtscts and fd is not None and not termios.tcgetattr(fd)[2] & getattr(termios, "CRTSCTS", 0):
            port.rtscts = False
            raise os_error(errno.EOPNOTSUPP, f"the driver of {port.portstr} refuses RTS/CTS flow control")

    def usb_vendor(self) -> Optional[int]:
        """The USB vendor id of the device behind the port (None: not a USB device, or unknown)."""
        port = self.get_extra_info("serial")
        if not isinstance(getattr(port, "port", None), str) or "://" in port.port:
            return None
        from serial.tools import list_ports  # (reads sysfs: only when a line is settled)
        device = os.path.realpath(port.port)
        try:
            found = [info.vid for info in list_ports.comports() if os.path.realpath(info.device) == device]
        except OSError:
            return None
        return found[0] if found else None


def _is_raw_tcp(port) -> bool:
    return type(port).__module__.endswith("protocol_socket")


class DescriptorTransport(LineControl, serial_asyncio.SerialTransport):
    """pyserial-asyncio's transport, minus two costs per AT exchange that the benchmark showed,
    and one stall.

    Its ``write`` always defers to the next loop turn (an extra wake-up and two epoll changes per
    command); here a write goes out at once when nothing is queued, and only what the descriptor
    does not take waits for writability. Its reads go through pyserial's ``read``, which runs a
    ``select`` before every ``os.read``; the loop has just said the descriptor is readable, so this
    reads it directly. And what waits for writability goes out with ``os.write`` as the port takes
    it: pyserial's ``write`` would block the loop until all of it had gone, which a bulk transfer
    in data mode (many kilobytes at the line rate) must not do.
    """

    def __init__(self, loop, protocol, port):
        super().__init__(loop, protocol, port)
        self._fd = port.fileno()
        self._pacer = ReadPacer()
        self._paused_until: Optional[asyncio.TimerHandle] = None

    def expect(self, due: Optional[int]) -> None:
        """``due`` more bytes are certain to come (0: the frame is complete; None: given up). On a
        port seen to deliver at its line rate, stop listening until they can be there, instead of
        waking at every arrival (:mod:`atsock.wire.readpacing`). The rate is read from the port each
        time: a baud rate changed meanwhile counts at once."""
        if self._paused_until is not None or self._closing or (not due and not self._pacer.in_frame):
            return
        baudrate = self._serial.baudrate if self._serial is not None else None
        seconds = self._pacer.pause(due, baudrate / 10 if baudrate else None, self._loop.time())
        if seconds and not self._closing:
            self._remove_reader()
            self._paused_until = self._loop.call_later(seconds, self._read_again)

    def _read_again(self) -> None:
        """The pause is over: listen again, and take what it waited for now rather than a loop turn
        later. (A terminal with VMIN 0 reads b"" when nothing waits: that is not an end of file
        here; a port that really went away shows at the reader's next turn.)"""
        self._paused_until = None
        if self._closing:
            return
        self._ensure_reader()
        try:
            data = os.read(self._fd, READ_CHUNK)
        except OSError:
            return
        if data:
            self._protocol.data_received(data)

    def write(self, data) -> None:
        if self._closing:
            return
        if not self._write_buffer:
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fatal_error(exc, "serial port write failed")
                return
            if sent == len(data):
                return
            data = data[sent:]
        super().write(data)

    def _write_ready(self) -> None:
        buffer = self._write_buffer
        while buffer:
            data = buffer[0]
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._fatal_error(exc, "serial port write failed")
                return
            if sent < len(data):
                buffer[0] = memoryview(data)[sent:]
                self._maybe_resume_protocol()
                return
            del buffer[0]
        self._remove_writer()
        self._maybe_resume_protocol()
        if self._closing:
            self._close()

    def _read_ready(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO: the device went away (USB unplug, pty closed)
            self._close(exc=exc)
            return
        if not data:
            if self._input_dropped:  # readable when polled, emptied by a rate change since: no end of file
                self._input_dropped = False
                return
            self._close(exc=OSError("serial port returned end of file"))
            return
        self._protocol.data_received(data)


class ThreadedSerialTransport(LineControl, asyncio.Transport):
    """A pyserial port without a descriptor, read by a thread and written from the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol, port: serial.SerialBase):
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._port = port
        self._port.timeout = 0.05
        self._closing = False
        self._reading = threading.Event()  # cleared while the protocol wants no more
        self._reading.set()
        self._thread = threading.Thread(target=self._read_loop, name="atsock-serial-reader", daemon=True)
        loop.call_soon(protocol.connection_made, self)
        self._thread.start()

    def _read_loop(self) -> None:
        error = None
        try:
            while not self._closing:
                if not self._reading.wait(0.05):
                    continue
                data = self._port.read(max(1, min(self._port.in_waiting, READ_CHUNK)))
                if data:
                    self._loop.call_soon_threadsafe(self._protocol.data_received, data)
        except Exception as exc:  # the port vanished: tell the protocol, do not die silently
            error = exc
        if not self._closing:
            self._loop.call_soon_threadsafe(self._lost, error)

    def _lost(self, error) -> None:
        if not self._closing:
            self._closing = True
            self._port.close()
            self._protocol.connection_lost(error)

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._port.write(data)
        except Exception as exc:
            self._lost(exc)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._thread.join(timeout=1)
        self._port.close()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def get_extra_info(self, name, default=None):
        return self._port if name == "serial" else default
