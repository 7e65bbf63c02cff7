"""A port spoken to through atsock's engine without a dialect: no bring-up, no network needed.

``atsock info`` must show the identity of a module that has no SIM, no coverage or no Wi-Fi, so
it cannot go through ``open_modem`` (which waits for registration and a data context). This
session finds the module at whatever line rate it is (``AT`` at each in turn, as bring-up does:
:mod:`atsock.wire.linerate`), switches echo off and then only asks; it also tells the dialect apart
for the commands that do open a modem. Commands end in CR LF, which both module families take,
so a session works before anyone knows which family answers.
"""
import asyncio
import errno
from typing import Optional

from ..errors import NO_ANSWER_HINT, CommandTimeout, ModemGone
from ..wire import atcmd
from ..wire.channel import ATChannel
from ..wire.engine import Engine
from ..wire.linerate import Line
from ..wire.loop_thread import LoopThread
from ..wire.rawat import ATResult, checked_timeout, command_line, execute
from ..wire.transport import open_serial
from ..wire.wiretrace import is_text, visible

SYNC_BUDGET = 4.0  # seconds of AT probes, at the rates a module is usually at
SAMPLE = 256  # bytes of the port's first words kept, to tell noise from a silent port (serialat's too)


class _Sampling:
    """The engine as the port's protocol, keeping the first bytes that arrive: a port whose every
    answer at every rate tried is bytes that are not text is read at none it speaks."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sample = bytearray()
        self.text_seen = False  # one piece that was all text (an echo, an ERROR): the rate was right once

    def data_received(self, data: bytes) -> None:
        if len(self.sample) < SAMPLE:
            self.sample += data[:SAMPLE - len(self.sample)]
        self.text_seen = self.text_seen or is_text(data)
        self.engine.data_received(data)

    def noise(self) -> Optional[bytes]:
        """The first bytes, if no piece of what came was text (None: text came, or nothing)."""
        return None if self.text_seen or not self.sample else bytes(self.sample)

    def __getattr__(self, name):  # connection_made, connection_lost, pause_writing...: the engine's
        return getattr(self.engine, name)


class BareSession:
    def __init__(self, port, *, baudrate: int = 115200):
        self.port = port
        self._thread = LoopThread(name="atsock-session")
        self.engine = Engine(ATChannel(terminator=b"\r\n"))
        self._protocol = _Sampling(self.engine)
        self.line = Line(self.engine, None, baudrate)  # found, never switched: only queries go out
        try:
            self._thread.run(self._open(baudrate))
        except CommandTimeout:
            self.close()
            sample = self._protocol.noise()
            if sample:
                raise OSError(errno.EPROTO, f"{port} sends bytes that are not text ({visible(sample[:24])}...) at "
                                            f"every rate tried ({', '.join(map(str, self.line.candidates()))}): "
                                            "the wrong --baudrate? (a module set to a rate of its own), or the "
                                            "wrong port") from None
            raise OSError(errno.ETIMEDOUT, f"{port} does not answer AT; {NO_ANSWER_HINT}") from None
        except ModemGone as exc:
            self.close()
            raise OSError(errno.EIO, f"{port} closed under us ({exc}): is another program using it?") from None
        except BaseException:
            self.close()
            raise

    async def _open(self, baudrate: int) -> None:
        await open_serial(asyncio.get_running_loop(), self.port, baudrate, lambda: self._protocol)
        await asyncio.sleep(0)  # let connection_made run
        await self.line.find(SYNC_BUDGET)
        await self.engine.command(atcmd.build("ATE0"), timeout=2.0, check=False)

    @property
    def baudrate(self) -> int:
        """The rate the module answered at."""
        return self.line.baudrate

    def ask(self, command: str, timeout: float = 3.0) -> Optional[ATResult]:
        """The module's answer, or None when no final result came within ``timeout``."""
        coro = execute(self.engine, command_line(command), checked_timeout(timeout))
        try:
            return self._thread.run(coro)
        except CommandTimeout:
            return None
        except ModemGone as exc:
            raise OSError(errno.EIO, f"{self.port} went away: {exc}") from None

    def identify(self) -> Optional[str]:
        """``quectel`` if ``ATI`` names Quectel, ``esp8285`` if ``AT+GMR`` shows an ESP-AT version,
        None if neither."""
        answer = self.ask("ATI", timeout=2.0)
        if answer is not None and answer.ok and any(line.strip().lower() == "quectel" for line in answer.lines):
            return "quectel"
        answer = self.ask("AT+GMR", timeout=2.0)
        if answer is not None and answer.ok and any(line.startswith("AT version:") for line in answer.lines):
            return "esp8285"
        return None

    def close(self) -> None:
        """Let go of the port before returning: it is opened exclusively, and ``open_modem`` may
        want it next (after :func:`detect_dialect`)."""
        if self._thread.alive:
            self._thread.run(self._close())
        self._thread.stop()

    async def _close(self) -> None:
        self.engine.close()
        await asyncio.sleep(0)  # the transport closes the port on the loop's next turn

    def __enter__(self) -> "BareSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
