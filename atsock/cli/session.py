"""A port spoken to through atsock's engine without a dialect: no bring-up, no network needed.

``atsock info`` must show the identity of a module that has no SIM, no coverage or no Wi-Fi, so
it cannot go through ``open_modem`` (which waits for registration and a data context). This
session syncs with ``AT``, switches echo off and then only asks; it also tells the dialect apart
for the commands that do open a modem.
"""
import asyncio
import errno
from typing import Optional

from .. import atcmd
from ..channel import ATChannel
from ..engine import Engine
from ..errors import NO_ANSWER_HINT, CommandTimeout, ModemGone
from ..loop_thread import LoopThread
from ..rawat import ATResult, checked_timeout, command_line, execute
from ..transport import open_serial

SYNC_ATTEMPTS = 4
DIALECT_TERMINATORS = {"quectel": b"\r", "esp8285": b"\r\n"}


class BareSession:
    def __init__(self, port, *, baudrate: int = 115200, dialect: Optional[str] = None):
        """``dialect`` picks the command terminator; unknown (None) sends CR LF, which both take."""
        self.port = port
        self._thread = LoopThread(name="atsock-session")
        self.engine = Engine(ATChannel(terminator=DIALECT_TERMINATORS.get(dialect, b"\r\n")))
        try:
            self._thread.run(self._open(baudrate))
        except CommandTimeout:
            self.close()
            raise OSError(errno.ETIMEDOUT, f"{port} does not answer AT; {NO_ANSWER_HINT}") from None
        except ModemGone as exc:
            self.close()
            raise OSError(errno.EIO, f"{port} closed under us ({exc}): is another program using it?") from None
        except BaseException:
            self.close()
            raise

    async def _open(self, baudrate: int) -> None:
        await open_serial(asyncio.get_running_loop(), self.port, baudrate, lambda: self.engine)
        await asyncio.sleep(0)  # let connection_made run
        await self.engine.sync(SYNC_ATTEMPTS, timeout=1.0)
        await self.engine.command(atcmd.build("ATE0"), timeout=2.0, check=False)

    def ask(self, command: str, timeout: float = 3.0) -> Optional[ATResult]:
        """The module's answer, or None when no final result came within ``timeout``."""
        coro = execute(self.engine, command_line(command), checked_timeout(timeout))
        try:
            return self._thread.run(coro)
        except CommandTimeout:
            return None
        except ModemGone as exc:
            raise OSError(errno.EIO, f"{self.port} went away: {exc}") from None

    def detect_dialect(self) -> str:
        """``quectel`` if ``ATI`` names Quectel, ``esp8285`` if ``AT+GMR`` shows an ESP-AT version."""
        answer = self.ask("ATI", timeout=2.0)
        if answer is not None and answer.ok and any(line.strip().lower() == "quectel" for line in answer.lines):
            return "quectel"
        answer = self.ask("AT+GMR", timeout=2.0)
        if answer is not None and answer.ok and any(line.startswith("AT version:") for line in answer.lines):
            return "esp8285"
        raise OSError(errno.EPROTO, f"{self.port} answers AT but is neither a Quectel module (ATI) nor an "
                                    "ESP-AT module (AT+GMR); give --dialect")

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


def detect_dialect(port, baudrate: int = 115200) -> str:
    with BareSession(port, baudrate=baudrate) as session:
        return session.detect_dialect()
