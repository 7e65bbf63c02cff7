"""Waiting for the network: ``AT+CEREG?``, ``AT+CGREG?`` and ``AT+CREG?`` until one of them
reports a registration (``shared/at-reference/sim-registration.md`` §5).

Each query reports its own domain and they disagree (an LTE-M network leaves CREG at 0 for good,
a CS domain may deny while LTE still attaches), so the module is registered as soon as any domain
is. A denial is final once it holds on two polls in a row with no domain still searching: the
network turned the SIM away, and waiting out ``registration_timeout`` would not change that. A
time-out says where each domain stood, and what the signal was.
"""
import asyncio
import errno
from typing import Callable, Dict, Optional

from atsock.wire import atcmd
from atsock.core import registration
from atsock.errors import CommandFailed, ModemError, RegistrationError, docs_link
from atsock.wire.fields import parse_int, split_fields

from .codes import T_QUERY

QUERIES = ("AT+CEREG", "AT+CGREG", "AT+CREG")  # LTE first: on LTE-M/NB-IoT it is the one that moves
SEARCHING = 2
DENIAL_POLLS = 2
DOCS = docs_link("troubleshooting", "registration")


class RegistrationWait:
    def __init__(self, engine, timeout: float, poll: float):
        self.engine = engine
        self.timeout = timeout
        self.poll = poll
        self.stats: Dict[str, Optional[int]] = {}  # what each query said last, by its prefix ("+CEREG")

    async def run(self, progress: Callable[[str], None]) -> int:
        """The ``<stat>`` of the registration (1 home, 5 roaming...); RegistrationError when the
        network denies it or it does not come within the time-out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        queries = list(QUERIES)
        stats = self.stats = {}
        denials = 0
        shown = None
        while True:
            for query in list(queries):
                try:
                    stats[query[2:]] = await self._stat(query)
                except CommandFailed:
                    queries.remove(query)  # this module has no such registration report
                    continue
                if stats[query[2:]] in registration.REGISTERED:
                    return stats[query[2:]]
            if not queries:
                raise ModemError(errno.ENODEV, "the module answers no registration query (AT+CEREG?, AT+CGREG?, "
                                               "AT+CREG?)")
            denied = registration.best(stats) == registration.DENIED and SEARCHING not in stats.values()
            denials = denials + 1 if denied else 0
            if denials >= DENIAL_POLLS:
                raise RegistrationError(
                    errno.ENETUNREACH, f"the network denied the registration ({registration.summary(stats)})",
                    advice="the SIM may not be activated, may have no plan for this network or technology "
                           "(LTE-M, NB-IoT), or this network may not take it while roaming; ask the operator",
                    docs=DOCS, state=registration.words(registration.DENIED), stats=stats, denied=True)
            if loop.time() > deadline:
                rssi = await self._signal()
                raise RegistrationError(
                    errno.ENETUNREACH, f"not registered within {self.timeout:g} s ({registration.summary(stats)}; "
                                       f"{registration.signal_words(rssi)})",
                    advice="check the antenna and the coverage here (atsock info shows the signal), or give a "
                           "slow network longer with {setting}", setting="registration_timeout", docs=DOCS,
                    state=registration.words(registration.best(stats)), stats=stats, signal=rssi)
            text = f"waiting for the network: {registration.summary(stats)}"
            if text != shown:
                shown = text
                progress(text)
            await asyncio.sleep(self.poll)

    async def _stat(self, query: str) -> Optional[int]:
        prefix = query[2:] + ":"
        response = await self.engine.command(atcmd.query(query), timeout=T_QUERY, response_prefixes=(prefix,))
        fields = split_fields((response.values(prefix) or [""])[0])
        return parse_int(fields[1], 0, 255) if len(fields) > 1 else None

    async def _signal(self) -> Optional[int]:
        """``AT+CSQ``'s <rssi> (99: no signal), for the time-out's message; None where not answered."""
        response = await self.engine.command(atcmd.build("AT+CSQ"), timeout=T_QUERY, response_prefixes=("+CSQ:",),
                                             check=False)
        values = response.values("+CSQ:")
        return parse_int(split_fields(values[0])[0], 0, 99) if values and response.final.ok else None
