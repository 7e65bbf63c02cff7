"""Recovery without user action: after trouble, bring the modem up again, a capped number of times.

Trouble is what a dialect reports when the module rebooted (``RDY``/``ready``), the network took
the data context or the Wi-Fi away, registration was lost, the module stopped answering, or the
serial port vanished (USB unplug, or the connection to a serial server on the network). Sockets
that could not survive it have already failed with a meaningful errno; this only gets the modem
back so that new sockets work: it reopens the port if it is gone (the same path or URL, until
``reopen_timeout``), then runs the dialect's bring-up again. After ``max_attempts`` failed bring-ups
the modem is ``failed``. Every wait between two tries is randomised and bounded
(:mod:`atsock.core.backoff`), so that many modems that lost their ports or their network together do
not all come back in step.
"""
import asyncio
import itertools
import logging
from typing import Optional

from .backoff import Backoff

log = logging.getLogger("atsock.recovery")

#: between two tries to reopen a port: 0.125-0.25 s at first, never more than 4-8 s (a USB port
#: re-enumerates within a second or two; a serial server's host may take minutes to reboot)
REOPEN_BACKOFF = (0.25, 8.0)
#: between two failed bring-ups: 0.25-0.5 s, 0.5-1 s... up to 15-30 s (each costs the network a
#: registration or a Wi-Fi join)
BRING_UP_BACKOFF = (0.5, 30.0)


class Recovery:
    def __init__(self, modem, max_attempts: int = 5, reopen_timeout: float = 60.0):
        self.modem = modem
        self.max_attempts = max_attempts
        self.reopen_timeout = reopen_timeout
        self.reopen_backoff = Backoff(*REOPEN_BACKOFF)
        self.bring_up_backoff = Backoff(*BRING_UP_BACKOFF)
        self.recoveries = 0  # completed recoveries, for long-running services to watch
        self._task: Optional[asyncio.Task] = None

    def on_trouble(self, kind: str) -> None:
        """Called on the engine's loop when the modem reports trouble."""
        if self.modem.life.state in ("closing", "closed", "failed"):
            return
        if self._task is not None and not self._task.done():
            return  # the recovery under way runs bring-up again anyway
        self._task = asyncio.ensure_future(self._run(kind))

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self, kind: str) -> None:
        life = self.modem.life
        if life.can("recover"):
            life.recover()
        tried = 0
        for attempt in range(1, self.max_attempts + 1):
            tried = attempt
            try:
                if self.modem.engine.gone is not None:
                    await self._reopen()
                life.retry()
                await self.modem.dialect.bring_up()
                self.recoveries += 1
                log.info("recovered from %s (attempt %d)", kind, attempt)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("recovery from %s, attempt %d of %d failed: %s", kind, attempt, self.max_attempts, exc)
                if life.state in ("closing", "closed"):
                    return
                if getattr(exc, "final", False):  # only the user can mend it (a SIM, an APN): no more tries
                    break
                if life.can("recover"):
                    life.recover()
                await asyncio.sleep(self.bring_up_backoff.delay(attempt - 1))
        log.error("modem %s failed: %d recovery attempt(s) after %s", self.modem.port, tried, kind)
        if life.can("fail"):
            life.fail()

    async def _reopen(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reopen_timeout
        for attempt in itertools.count():
            await asyncio.sleep(self.reopen_backoff.delay(attempt))
            try:
                await self.modem.reopen_port()
                return
            except (OSError, ValueError) as exc:
                if loop.time() > deadline:
                    raise OSError(f"serial port {self.modem.port} did not come back: {exc}") from None
