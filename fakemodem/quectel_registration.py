"""The emulated module's network registration: AT+CREG, AT+CGREG and AT+CEREG, their URCs, and
what the other status commands ask of it (sim-registration.md §5, §6).

``registration`` is where the network lets the card go: "home" (stat 1), "roaming" (5), "denied"
(3, for good) or "searching" (2, for ever). The module gets there ``registration_delay`` seconds
after boot, searching (2) until then; with the radio off (AT+CFUN=0/4) or no usable SIM it is 0
(not registered, not searching). A radio with no signal (the profile's AT+CSQ rssi is 99, e.g.
``identity={"csq": (99, 99)}``) never registers: ``no_signal_stat`` (2 searching; the reference's
other readings, 4 unknown "out of coverage" or 0) says what it reports then.

Each query reports its own domain (CS, GPRS, EPS). ``registration_mix`` picks how the three
relate, as real modules report them differently at the same moment: "same" (LTE with CSFB: all
three alike), "lte-only" (an LTE-M/NB-IoT network: CEREG carries the state, CREG and CGREG say 0
with the radio on), "gprs-only" (CREG and CGREG carry it, CEREG says 4, unknown).
"""
import asyncio

STATS = {"home": 1, "roaming": 5, "denied": 3, "searching": 2}
MIXES = ("same", "lte-only", "gprs-only")
DOMAINS = ("+CREG", "+CGREG", "+CEREG")
REGISTERED = (1, 5)
NOT_REGISTERED, SEARCHING, DENIED, UNKNOWN = 0, 2, 3, 4


class Registration:
    def __init__(self, module, registration: str = "home", delay: float = 0.0, mix: str = "same",
                 no_signal_stat: int = SEARCHING):
        if registration not in STATS:
            raise ValueError(f"registration is one of {', '.join(STATS)}, not {registration!r}")
        if mix not in MIXES:
            raise ValueError(f"registration_mix is one of {', '.join(MIXES)}, not {mix!r}")
        if no_signal_stat not in (SEARCHING, UNKNOWN, NOT_REGISTERED):
            raise ValueError("no_signal_stat is 2, 4 or 0")
        self.m = module
        self.target = STATS[registration]
        self.delay = delay
        self.mix = mix
        self.no_signal_stat = no_signal_stat
        self.reports = dict.fromkeys(DOMAINS, 0)  # n of AT+CxREG=<n>
        self._booted_at = 0.0
        self._deregistered_until = 0.0

    def handlers(self):
        return dict.fromkeys(DOMAINS, self.command)

    def test_answers(self):
        return {name: [f"{name}: (0-2)"] for name in DOMAINS}

    def booted(self) -> None:
        self._booted_at = asyncio.get_running_loop().time()

    def restart(self) -> None:
        self.reports = dict.fromkeys(DOMAINS, 0)

    # --- the state ------------------------------------------------------------------------------
    def stat(self) -> int:
        """The module's registration as one 27.007 ``<stat>``, before the domains are told apart."""
        m = self.m
        if m.fun != 1 or not m.sim.ready:
            return NOT_REGISTERED
        if m.radio.csq[0] == 99:
            return self.no_signal_stat
        return SEARCHING if self._scanning() else self.target

    def _scanning(self) -> bool:
        """Still looking for a cell: after boot for ``registration_delay``, or after a loss."""
        now = asyncio.get_running_loop().time()
        return now - self._booted_at < self.delay or now < self._deregistered_until

    def registered(self) -> bool:
        return self.stat() in REGISTERED

    def has_cell(self) -> bool:
        """A cell is heard, whether or not it takes the SIM (AT+CSQ reports its signal): the radio on,
        a usable SIM, a signal, and the scan after boot or a loss over."""
        m = self.m
        return m.fun == 1 and m.sim.ready and m.radio.csq[0] != 99 and not self._scanning()

    def stat_of(self, name: str, stat: int) -> int:
        """What the query ``name`` reports for ``stat`` under ``registration_mix``."""
        if self.mix == "lte-only" and name != "+CEREG" and stat != NOT_REGISTERED:
            return NOT_REGISTERED  # no CS or GPRS on this network, the radio on all the same
        if self.mix == "gprs-only" and name == "+CEREG" and stat != NOT_REGISTERED:
            return UNKNOWN
        return stat

    # --- AT+CxREG --------------------------------------------------------------------------------
    async def command(self, cmd) -> None:
        if cmd.kind == "write":
            self.reports[cmd.name] = cmd.number(0, 0, 2)
            self.m.final("OK")
            return
        if cmd.kind != "read":
            raise ValueError("AT+CxREG? or AT+CxREG=<n>")
        stat = self.stat_of(cmd.name, self.stat())
        n = self.reports[cmd.name]
        self.m.reply(f"{cmd.name}: {n},{stat}" + (self._location() if n == 2 and stat in REGISTERED else ""))

    def _location(self) -> str:
        """The <lac>/<tac>,<ci>,<AcT> fields of a registration answer at report level 2."""
        radio = self.m.radio
        return f',"{radio.area_code}","{radio.cell_id}",{radio.cops_act}'

    # --- events -----------------------------------------------------------------------------------
    def lose(self, seconds: float) -> None:
        """Registration lost, and regained after ``seconds`` (FakeModem.lose_registration)."""
        loop = asyncio.get_running_loop()
        self._deregistered_until = loop.time() + seconds
        self._report()
        loop.call_later(seconds, self._regained)

    def _regained(self) -> None:
        self._deregistered_until = 0.0
        self._report()

    def _report(self) -> None:
        stat = self.stat()
        for name, n in self.reports.items():
            if n:
                own = self.stat_of(name, stat)
                self.m.urc(f"{name}: {own}" + (self._location() if n == 2 and own in REGISTERED else ""))
