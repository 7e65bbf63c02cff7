"""The SIM on day one: wait for the card, give its PIN once, and say in words what keeps it locked
(``shared/at-reference/sim-registration.md`` §2-§4).

A PIN is offered at most once per ``open_modem``: a card the module says refused it
(``+CME ERROR: 16``) is never given it again, not by a later bring-up either, because three wrong
PINs lock the card to its PUK. Nor is the card's last attempt spent: with one try left (``AT+QPINC``)
the PIN is not sent at all.
"""
import asyncio
import errno
from typing import Callable, Optional

from atsock.wire import atcmd
from atsock.errors import CommandFailed, SimError, docs_link
from atsock.wire.fields import parse_int, split_fields

from .codes import T_QUERY

SIM_BUDGET = 20.0     # SIM initialisation after boot, per Quectel's process note
ABSENT_GRACE = 3.0    # "+CME ERROR: 10" in the first moments after boot means "not yet" (an EC21 log)
POLL = 1.0
NOT_INSERTED, SIM_FAILURE, WRONG_PASSWORD = 10, 13, 16
STARTING = {NOT_INSERTED: "not detected yet", 14: "busy"}  # what the first moments after boot say
DOCS = docs_link("troubleshooting", "sim")


class SimUnlock:
    def __init__(self, engine, pin: Optional[str]):
        self.engine = engine
        self.pin = pin
        self.refused: Optional[str] = None  # a PIN the card refused: never offered again

    async def wait_until_ready(self, progress: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SIM_BUDGET
        absent_since = None
        waiting = None
        while True:
            try:
                response = await self.engine.command(atcmd.query("AT+CPIN"), timeout=5.0,
                                                     response_prefixes=("+CPIN:",))
                status = (response.values("+CPIN:") or [""])[0]
            except CommandFailed as exc:
                status = STARTING.get(exc.code, exc.final)
                if exc.code == NOT_INSERTED or "not inserted" in exc.final.lower():
                    absent_since = absent_since if absent_since is not None else loop.time()
                    if loop.time() - absent_since >= ABSENT_GRACE:
                        raise SimError(errno.ENODEV, "no SIM card (+CME ERROR: 10, SIM not inserted)",
                                       advice="with the module off, seat a SIM", docs=DOCS, state="absent") from None
                elif exc.code == SIM_FAILURE:
                    raise SimError(errno.ENODEV, "the SIM does not work (+CME ERROR: 13, SIM failure)",
                                   advice="the card is dead, badly seated, or blocked for good after ten wrong PUKs",
                                   docs=DOCS, state="blocked") from None
            if status == "READY":
                return
            if status == "SIM PIN":
                await self._enter_pin()
                continue
            if status == "SIM PUK":
                raise SimError(errno.EACCES, "the SIM is locked to its PUK (three wrong PINs)",
                               advice="unlock it with its PUK in a phone, or with AT+CPIN=\"<PUK>\",\"<new PIN>\" "
                                      "(atsock at), then give the new PIN", docs=DOCS, state="puk",
                               tries_left=await self.tries_left(puk=True))
            if loop.time() > deadline:
                raise SimError(errno.ENODEV, f"SIM not ready within {SIM_BUDGET:g} s (the module says {status})",
                               advice="check that the card is seated and not a PIN2/network-locked one", docs=DOCS,
                               state="not-ready")
            if status != waiting:
                waiting = status
                progress(f"waiting for the SIM ({status})")
            await asyncio.sleep(POLL)

    async def _enter_pin(self) -> None:
        pin = self.pin
        if pin is None:
            left = await self.tries_left()
            raise SimError(errno.EACCES, "the SIM is locked with a PIN" + _attempts(left),
                           advice="give it with {setting}", setting="pin", docs=DOCS, state="pin", tries_left=left)
        if pin == self.refused:
            raise self._refused(None)
        left = await self.tries_left()
        if left is not None and left <= 1:
            raise SimError(errno.EACCES, "the SIM allows one more PIN attempt, which atsock does not spend: a wrong "
                                         "PIN would lock the card to its PUK",
                           advice="check {setting} and enter it yourself (atsock at PORT 'AT+CPIN=\"<PIN>\"')",
                           setting="pin", docs=DOCS, state="pin", tries_left=left)
        try:
            await self.engine.command(atcmd.build("AT+CPIN", atcmd.text(pin, "PIN", 8)), timeout=5.0)
        except CommandFailed as exc:
            if exc.code != WRONG_PASSWORD and "incorrect password" not in exc.final.lower():
                raise
            self.refused = pin
            raise self._refused(await self.tries_left()) from None

    def _refused(self, left: Optional[int]) -> SimError:
        return SimError(errno.EACCES, "the SIM refused the PIN" + _attempts(left) + "; atsock does not try it again",
                        advice="check {setting}", setting="pin", docs=DOCS, state="wrong-pin", tries_left=left)

    async def tries_left(self, puk: bool = False) -> Optional[int]:
        """``AT+QPINC="SC"``: the PIN (or PUK) attempts the card allows; None where not answered."""
        response = await self.engine.command(atcmd.build("AT+QPINC", atcmd.text("SC")), timeout=T_QUERY,
                                             response_prefixes=("+QPINC:",), check=False)
        values = response.values("+QPINC:")
        fields = split_fields(values[0]) if values and response.final.ok else []
        return parse_int(fields[2 if puk else 1], 0, 99) if len(fields) > 2 else None


def _attempts(left: Optional[int]) -> str:
    if left is None:
        return ""
    return f" ({left} attempt{'s' if left != 1 else ''} left before it locks to its PUK)"
