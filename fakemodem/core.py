"""The emulator's runtime: a pty, an event loop thread, and the serial side of a module.

:class:`FakeModem` is the public object. It owns a pty and a thread running an asyncio loop; the
dialect object (e.g. :class:`fakemodem.quectel.QuectelModule`) reads command lines from the
:class:`SerialSide` and writes answers and URCs back through it, and bridges its sockets to real
host sockets on the same loop.
"""
import asyncio
import logging
import os
import threading
from collections import deque
from typing import Optional

from .faults import Faults
from .pty_port import PtyPort

log = logging.getLogger("fakemodem")


TICK = 0.005  # pacing granularity: a paced line moves this many seconds' worth of bytes per step


class SerialSide:
    """Bytes from the host in, bytes to the host out, as a module's UART sees them.

    With ``baudrate`` set, both directions move at the line rate (10 bits a byte), as through a
    real UART; without it, as fast as the pty allows. ``terminator`` ends a command line (CR for
    Quectel, CR LF for ESP-AT). With ``busy_reply`` set, a command line that arrives while the
    module is still executing one is answered with it and discarded, as ESP-AT firmware does.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, baudrate: Optional[int] = None):
        self._loop = loop
        self._fd = fd
        self._rate = baudrate / 10 if baudrate else None  # bytes per second
        self._inbox = bytearray()
        self._arrived: Optional[asyncio.Future] = None
        self._outbox = bytearray()
        self._writing = False
        self._line_free_at = 0.0
        self._flush_timer = None
        self.listening = False  # input before boot completes is dropped, as on a module
        self.terminator = b"\r"
        self.busy_reply: Optional[bytes] = None
        self.executing = False
        self._want_payload = False
        self.faults = None  # fakemodem.faults.Faults: split writes
        self._staged = deque()
        self._stage_timer = None
        self.received_commands = deque(maxlen=100_000)  # the most recent command lines, for tests
        self.bytes_in = 0
        self.bytes_out = 0
        loop.add_reader(fd, self._readable)

    # --- input --------------------------------------------------------------------------------
    def _readable(self) -> None:
        limit = max(1, int(self._rate * TICK)) if self._rate else 65536
        try:
            data = os.read(self._fd, limit)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if self._rate and data:  # the UART takes len(data) bytes' time: stop reading until then
            self._loop.remove_reader(self._fd)
            self._loop.call_later(len(data) / self._rate, self._resume_reading)
        if not self.listening or not data:
            return
        self.bytes_in += len(data)
        self._inbox += data
        if self.executing and self.busy_reply and not self._want_payload:
            self._refuse_lines()
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    def _resume_reading(self) -> None:
        try:
            self._loop.add_reader(self._fd, self._readable)
        except (ValueError, OSError):
            pass  # closed meanwhile

    def _refuse_lines(self) -> None:
        """Input during a running command: every complete line is answered busy and dropped."""
        while True:
            end = self._inbox.find(self.terminator)
            if end < 0:
                return
            del self._inbox[: end + len(self.terminator)]
            self.write(self.busy_reply)

    async def _more(self) -> None:
        self._arrived = self._loop.create_future()
        await self._arrived

    async def read_command(self, echo: bool) -> str:
        """The next command line, echoed back (terminator included) when ``echo`` is on."""
        while True:
            # LF after CR, a stray Ctrl-Z after a fixed-length payload, NULs: ignored between commands
            while self._inbox and self._inbox[0] in (0x0A, 0x1A, 0x00):
                del self._inbox[0]
            end = self._inbox.find(self.terminator)
            if end < 0:
                if len(self._inbox) > 4096:  # no module keeps a line that long
                    self._inbox.clear()
                await self._more()
                continue
            raw = bytes(self._inbox[:end])
            del self._inbox[: end + len(self.terminator)]
            if echo:
                self.write(raw + self.terminator)
            line = raw.decode("latin-1").strip()
            if line:
                self.received_commands.append(line)
                return line

    async def read_exact(self, count: int, timeout: float) -> Optional[bytes]:
        """Exactly ``count`` payload bytes, or None if they do not all come within ``timeout``."""
        deadline = self._loop.time() + timeout
        self._want_payload = True
        try:
            while len(self._inbox) < count:
                left = deadline - self._loop.time()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._more(), left)
                except asyncio.TimeoutError:
                    return None
        finally:
            self._want_payload = False
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        return data

    # --- output -------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Bytes written by the module but not yet on the line."""
        return len(self._outbox)

    def write(self, data: bytes) -> None:
        if self._staged or (self.faults and len(data) > 1 and self.faults.chance("split")):
            self._staged.extend(self.faults.pieces(data) if len(data) > 1 else [data])
            if self._stage_timer is None:
                self._stage_timer = self._loop.call_later(0.001, self._release_piece)
            return
        self._outbox += data
        if not self._writing and self._flush_timer is None:
            self._flush()

    def _release_piece(self) -> None:
        """Split output goes out a piece at a time, a millisecond apart, in order."""
        self._stage_timer = None
        self._outbox += self._staged.popleft()
        if not self._writing and self._flush_timer is None:
            self._flush()
        if self._staged:
            self._stage_timer = self._loop.call_later(0.001, self._release_piece)

    def _flush(self) -> None:
        self._flush_timer = None
        while self._outbox:
            chunk = self._outbox
            if self._rate:
                now = self._loop.time()
                if self._line_free_at > now + TICK:
                    self._flush_timer = self._loop.call_at(self._line_free_at - TICK, self._flush)
                    return
                chunk = self._outbox[: max(1, int(self._rate * TICK))]
            try:
                sent = os.write(self._fd, chunk)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._outbox.clear()
                break
            del self._outbox[:sent]
            self.bytes_out += sent
            if self._rate and sent:
                self._line_free_at = max(self._line_free_at, self._loop.time()) + sent / self._rate
            if sent == 0:
                if not self._writing:
                    self._writing = True
                    self._loop.add_writer(self._fd, self._flush)
                return
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._loop.remove_writer(self._fd)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        if self._stage_timer is not None:
            self._stage_timer.cancel()


class FakeModem:
    """An emulated module on a pty. ``FakeModem("quectel", hosts={...})``; ``.port`` is the path.

    It starts at once and serves until :meth:`close` (or the end of a ``with`` block).
    """

    def __init__(self, dialect: str = "quectel", *, baudrate: Optional[int] = None, faults=None,
                 seed: Optional[int] = None, link_path: Optional[str] = None, **options):
        from . import dialects

        module_class = dialects.get(dialect)
        self.baudrate = baudrate
        self.dialect = dialect
        self.faults = Faults(faults, seed)
        self.link_path = link_path
        self._pty = PtyPort()
        self._link_port()
        self.port = link_path or self._pty.path
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"fakemodem-{dialect}", daemon=True)
        self._startup_error: Optional[BaseException] = None
        self.module = None
        self._module_class = module_class
        self._options = options
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self.close()
            raise self._startup_error

    def _link_port(self) -> None:
        """With ``link_path``, the port users open is a symlink that survives unplug/replug."""
        if self.link_path:
            if os.path.lexists(self.link_path):
                os.unlink(self.link_path)
            os.symlink(self._pty.path, self.link_path)

    def _plug_in(self) -> None:
        self.serial = SerialSide(self.loop, self._pty.master, self.baudrate)
        self.serial.faults = self.faults
        self.module = self._module_class(self.serial, faults=self.faults, **self._options)
        self._main = self.loop.create_task(self.module.run())

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._plug_in()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.module.shut_down())
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.serial.close()
        self.loop.close()

    def call(self, function, *args):
        """Run ``function(*args)`` on the emulator's loop and return its result (for tests)."""
        done = threading.Event()
        box = {}

        def invoke():
            try:
                box["value"] = function(*args)
            except BaseException as exc:
                box["error"] = exc
            done.set()

        self.loop.call_soon_threadsafe(invoke)
        done.wait(10)
        if "error" in box:
            raise box["error"]
        return box.get("value")

    @property
    def received_commands(self):
        """Every command line the emulator has read, in order (since the last replug)."""
        return list(self.call(lambda: list(self.serial.received_commands)))

    def set_faults(self, config) -> None:
        """Change the injected faults while running (e.g. only once the driver is up)."""
        def apply():
            fresh = Faults(config)  # validates
            self.faults.config = fresh.config
        self.call(apply)

    # --- one-off events, for tests of recovery ---------------------------------------------------
    def reboot(self) -> None:
        """The module restarts on its own: sockets gone, boot URCs again."""
        self.call(self.module.restart)

    def drop_network(self) -> None:
        """The network takes the data context (Quectel ``pdpdeact``) or the Wi-Fi (ESP)."""
        self.call(self.module.drop_network)

    def hang(self, seconds: float) -> None:
        """The module reads commands but answers none for ``seconds``."""
        self.call(self.module.hang, seconds)

    def lose_registration(self, seconds: float) -> None:
        """(Quectel) registration lost, and regained after ``seconds``."""
        self.call(self.module.lose_registration, seconds)

    def inject(self, data: bytes) -> None:
        """Write raw bytes to the host as if the module had sent them (noise, unknown URCs...)."""
        self.call(self.serial.write, data)

    def corrupt_next_read(self, how: str) -> None:
        """The next data the module hands over is framed wrongly: ``"absurd"`` announces 99999999
        bytes, ``"truncated"`` announces twice what follows and then stops."""
        if how not in ("absurd", "truncated"):
            raise ValueError("how is 'absurd' or 'truncated'")
        self.call(setattr, self.module, "corrupt", how)

    def unplug(self) -> None:
        """The USB cable comes out: the port vanishes and the module loses power."""
        def pull():
            self._main.cancel()
            asyncio.ensure_future(self.module.shut_down())
            self.serial.close()
        self.call(pull)
        self._pty.close()
        if self.link_path and os.path.lexists(self.link_path):
            os.unlink(self.link_path)

    def replug(self) -> None:
        """The cable goes back in: a new port at the same ``link_path``, a freshly booted module."""
        self._pty = PtyPort()
        self._link_port()
        self.call(self._plug_in)

    def close(self) -> None:
        if self._thread.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self._pty.close()
        if self.link_path and os.path.lexists(self.link_path):
            os.unlink(self.link_path)

    def __enter__(self) -> "FakeModem":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
