"""The emulator's runtime: a pty, an event loop thread, a UART and a module.

:class:`FakeModem` is the public object. It owns a pty and a thread running an asyncio loop; the
:class:`~fakemodem.uart.Uart` paces bytes on the pty, the
:class:`~fakemodem.serial_side.SerialSide` turns them into command lines and payloads, and the
dialect object (e.g. :class:`fakemodem.quectel.QuectelModule`) answers them and bridges its
sockets to real host sockets on the same loop.
"""
import asyncio
import os
import threading
from typing import Optional

from . import dialects, hostline
from .faults import Faults
from .pty_port import PtyPort
from .recorder import Recorder
from .serial_side import SerialSide
from .uart import Uart


class FakeModem:
    """An emulated module on a pty. ``FakeModem("quectel", hosts={...})``; ``.port`` is the path.

    It starts at once and serves until :meth:`close` (or the end of a ``with`` block). With
    ``powered=False`` the module stays off, deaf and silent, until :meth:`power_on`, as on a test
    bench whose host switches the module on once it listens: what a module prints before anyone
    opened the port is lost (opening a serial port discards it), so a test that reads the boot
    opens the port first. With ``record`` (a path), everything on the line is written there as
    JSON lines (:mod:`fakemodem.recorder`).

    The module's UART starts at ``boot_baudrate`` (115200, as modules leave the factory) and
    follows AT+IPR / AT+UART_CUR; a host that listens at another rate reads garbage
    (:mod:`fakemodem.uart`). ``paced`` makes the line carry only what its rate allows.
    ``baudrate=N`` is short for a paced line whose module boots at N. ``wiring_limit``: the
    highest rate the module's TX wire carries (a slow level shifter): above it the host reads
    garbage from the module, which still hears the host. ``usb``: the port is the module's own USB
    interface, which has no line rate (whatever rate the host sets, the bytes arrive intact, at the
    pace ``baudrate`` gives, and AT+IPR / AT+UART_CUR leave this port alone).
    """

    def __init__(self, dialect: str = "quectel", *, baudrate: Optional[int] = None,
                 boot_baudrate: Optional[int] = None, paced: Optional[bool] = None,
                 wiring_limit: Optional[int] = None, usb: bool = False, faults=None, seed: Optional[int] = None,
                 link_path: Optional[str] = None, record=None, powered: bool = True, **options):
        module_class = dialects.get(dialect)
        if baudrate is not None and boot_baudrate is not None and baudrate != boot_baudrate:
            raise ValueError("baudrate is a paced line booting at that rate: give it or boot_baudrate, not both")
        for name, value in (("baudrate", baudrate), ("boot_baudrate", boot_baudrate)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} is a line rate in baud, not {value!r}")
        self.baudrate = baudrate
        self.boot_baudrate = boot_baudrate or baudrate or 115200
        self.paced = baudrate is not None if paced is None else bool(paced)
        self.wiring_limit = wiring_limit
        self.usb = bool(usb)
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
        self._powered = powered
        self._module_class = module_class
        self._options = options
        self.recorder = Recorder(record, dialect, dict(options, boot_baudrate=self.boot_baudrate,
                                                       paced=self.paced)) if record else None
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self.close()
            raise self._startup_error

    def _link_port(self) -> None:
        """With ``link_path``, the port users open is a symlink that survives unplug/replug."""
        if self.link_path:
            if os.path.lexists(self.link_path):
                if not os.path.islink(self.link_path):
                    raise ValueError(f"link_path {self.link_path!r} exists and is not a symlink")
                os.unlink(self.link_path)
            os.symlink(self._pty.path, self.link_path)

    def _plug_in(self) -> None:
        self.serial = SerialSide(self.loop, faults=self.faults, recorder=self.recorder)
        master = self._pty.master
        hostline.preset(master, self.boot_baudrate)
        self.uart = Uart(self.loop, master, self.boot_baudrate, self.serial.feed, paced=self.paced,
                         host_line=lambda: hostline.read(master))
        self.uart.room = self.serial.room
        self.uart.wiring_limit = self.wiring_limit
        self.uart.usb = self.usb
        self.serial.line = self.uart
        self.module = self._module_class(self.serial, faults=self.faults, **self._options)
        self._main = self.loop.create_task(self.module.run()) if self._powered else None

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
        self.uart.close()
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

    def line(self) -> dict:
        """Both ends of the line now: the module's rate and flow control (``module_baudrate``,
        ``module_rts``, ``module_cts``), the host's as its termios says (``host_baudrate``,
        ``host_rtscts``), and what was lost or garbled on the way (:class:`fakemodem.uart.Uart`)."""
        def snapshot():
            uart = self.uart
            host = hostline.read(self._pty.master)
            rts, cts = uart.flow()
            return {"module_baudrate": uart.baudrate, "module_rts": rts, "module_cts": cts,
                    "host_baudrate": host.baudrate if host else None, "host_rtscts": host.rtscts if host else None,
                    "lost_in": uart.lost_in, "lost_out": uart.lost_out, "garbled": uart.garbled}
        return self.call(snapshot)

    def host_baudrate(self):
        """The baud rate the host set on the port (termios), e.g. through a serial server's RFC 2217."""
        host = hostline.read(self._pty.master)
        return host.baudrate if host else None

    def set_faults(self, config) -> None:
        """Change the injected faults while running (e.g. only once the driver is up)."""
        def apply():
            fresh = Faults(config)  # validates
            self.faults.config = fresh.config
        self.call(apply)

    def power_on(self) -> None:
        """Switch on a module made with ``powered=False``: it boots now (no-op if it is on)."""
        def switch_on():
            if self._main is None:
                self._powered = True
                self._main = self.loop.create_task(self.module.run())
        self.call(switch_on)

    # --- one-off events, for tests of recovery ---------------------------------------------------
    def reboot(self) -> None:
        """The module restarts on its own: sockets gone, boot URCs again."""
        self.call(self.module.restart)

    def drop_network(self, announce: bool = True) -> None:
        """The network takes the data context (Quectel ``pdpdeact``) or the Wi-Fi (ESP); with
        ``announce`` False the module's notice of it never reaches the host."""
        self.call(self.module.drop_network, announce)

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
            self.serial.note("unplug")
            if self._main is not None:
                self._main.cancel()
            asyncio.ensure_future(self.module.shut_down())
            self.serial.close()
            self.uart.close()
        self.call(pull)
        self._pty.close()
        if self.link_path and os.path.lexists(self.link_path):
            os.unlink(self.link_path)

    def replug(self) -> None:
        """The cable goes back in: a new port at the same ``link_path``, a freshly booted module
        (the cable powers it)."""
        self._powered = True
        self._pty = PtyPort()
        self._link_port()
        self.call(self._plug_in)
        self.call(self.serial.note, "replug")

    def close(self) -> None:
        if self._thread.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self._pty.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.link_path and os.path.lexists(self.link_path):
            os.unlink(self.link_path)

    def __enter__(self) -> "FakeModem":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
