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
from typing import Optional

from .pty_port import PtyPort

log = logging.getLogger("fakemodem")


class SerialSide:
    """Bytes from the host in, bytes to the host out, as a module's UART sees them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int):
        self._loop = loop
        self._fd = fd
        self._inbox = bytearray()
        self._arrived: Optional[asyncio.Future] = None
        self._outbox = bytearray()
        self._writing = False
        self.listening = False  # input before boot completes is dropped, as on a module
        self.received_commands = []
        loop.add_reader(fd, self._readable)

    # --- input --------------------------------------------------------------------------------
    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not self.listening or not data:
            return
        self._inbox += data
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    async def _more(self) -> None:
        self._arrived = self._loop.create_future()
        await self._arrived

    async def read_command(self, echo: bool) -> str:
        """The next command line (terminated by CR), echoed back when ``echo`` is on."""
        while True:
            # LF after CR, a stray Ctrl-Z after a fixed-length payload, NULs: ignored between commands
            while self._inbox and self._inbox[0] in (0x0A, 0x1A, 0x00):
                del self._inbox[0]
            end = self._inbox.find(b"\r")
            if end < 0:
                if len(self._inbox) > 4096:  # no module keeps a line that long
                    self._inbox.clear()
                await self._more()
                continue
            raw = bytes(self._inbox[:end])
            del self._inbox[: end + 1]
            if echo:
                self.write(raw + b"\r")
            line = raw.decode("latin-1").strip()
            if line:
                self.received_commands.append(line)
                return line

    async def read_exact(self, count: int, timeout: float) -> Optional[bytes]:
        """Exactly ``count`` payload bytes, or None if they do not all come within ``timeout``."""
        deadline = self._loop.time() + timeout
        while len(self._inbox) < count:
            left = deadline - self._loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._more(), left)
            except asyncio.TimeoutError:
                return None
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        return data

    # --- output -------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self._outbox += data
        if not self._writing:
            self._flush()

    def _flush(self) -> None:
        while self._outbox:
            try:
                sent = os.write(self._fd, self._outbox)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._outbox.clear()
                break
            del self._outbox[:sent]
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


class FakeModem:
    """An emulated module on a pty. ``FakeModem("quectel", hosts={...})``; ``.port`` is the path.

    It starts at once and serves until :meth:`close` (or the end of a ``with`` block).
    """

    def __init__(self, dialect: str = "quectel", **options):
        from . import dialects

        module_class = dialects.get(dialect)
        self.dialect = dialect
        self._pty = PtyPort()
        self.port = self._pty.path
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

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.serial = SerialSide(self.loop, self._pty.master)
            self.module = self._module_class(self.serial, **self._options)
            self._main = self.loop.create_task(self.module.run())
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
        """Every command line the emulator has read, in order."""
        return list(self.call(lambda: list(self.serial.received_commands)))

    def close(self) -> None:
        if self._thread.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self._pty.close()

    def __enter__(self) -> "FakeModem":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
