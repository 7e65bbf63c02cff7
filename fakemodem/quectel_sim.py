"""The emulated module's SIM card: its PIN and PUK with their tries, AT+CPIN and AT+QPINC, per
``shared/at-reference/sim-registration.md`` §2-§4.

``sim`` is the card at power-on: "ready" (no PIN lock), "pin" (locked: AT+CPIN? says ``SIM PIN``
until the PIN is given), "puk" (three wrong PINs ago: ``SIM PUK``) or "absent" (``+CME ERROR: 10``).
The card counts as real ones do: three wrong PINs lock it to its PUK, ten wrong PUKs block it for
good (``+CME ERROR: 13``, SIM failure). The tries live on the card, so a restart keeps them; a card
with its PIN lock on asks for the PIN again after every restart.

Switches for what the reference leaves open: ``sim_absent_urc`` ("NOT READY", from the BG96
manual's removal example; "NOT INSERTED", matched by an EC21 driver): the ``+CPIN:`` boot URC of a
module without a card; ``cpin_not_pending`` (3 "operation not allowed"; 4 "operation not
supported"): the ``+CME ERROR`` of AT+CPIN=<pin> when nothing is pending; ``pin_state_urc`` (True:
``+CPIN: SIM PUK`` follows the third wrong PIN; False: the state changes silently).
"""
from .atcommand import ATCommand
from .identity import reply_block

PIN_TRIES = 3
PUK_TRIES = 10
STATES = ("ready", "pin", "puk", "absent")
ALIASES = {"READY": "ready", "SIM PIN": "pin", "SIM PUK": "puk"}  # AT+CPIN?'s own words
CPIN_WORDS = {"ready": "READY", "pin": "SIM PIN", "puk": "SIM PUK"}

# +CME ERROR codes (sim-registration.md §4)
NOT_INSERTED, PIN_REQUIRED, PUK_REQUIRED, SIM_FAILURE, WRONG_PASSWORD = 10, 11, 12, 13, 16


def _secret(value, name: str, low: int, high: int) -> str:
    if not isinstance(value, str) or not value.isdigit() or not low <= len(value) <= high:
        raise ValueError(f"{name} is {low} to {high} digits, not {value!r}")
    return value


class Sim:
    def __init__(self, module, state: str = "ready", pin: str = "1234", puk: str = "12345678",
                 absent_urc: str = "NOT READY", not_pending: int = 3, state_urc: bool = True):
        state = ALIASES.get(state, state)
        if state not in STATES:
            raise ValueError(f"sim is one of {', '.join(STATES)}, not {state!r}")
        if absent_urc not in ("NOT READY", "NOT INSERTED"):
            raise ValueError(f"sim_absent_urc is 'NOT READY' or 'NOT INSERTED', not {absent_urc!r}")
        if not_pending not in (3, 4):
            raise ValueError("cpin_not_pending is 3 or 4")
        self.m = module
        self.state = state          # "ready", "pin", "puk", "absent" or "blocked"
        self.pin = _secret(pin, "pin", 4, 8)
        self.puk = _secret(puk, "puk", 8, 8)
        self.pin_tries = 0 if state == "puk" else PIN_TRIES
        self.puk_tries = PUK_TRIES
        self.lock = state in ("pin", "puk")  # AT+CLCK="SC": a restart asks for the PIN again
        self.absent_urc = absent_urc
        self.not_pending = not_pending
        self.state_urc = state_urc

    def handlers(self):
        return {"+CPIN": self.cpin, "+QPINC": self.qpinc}

    def test_answers(self):
        return {"+CPIN": [], "+QPINC": ['+QPINC: ("SC","P2")']}

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def boot_urc(self) -> str:
        """The ``+CPIN:`` line of the boot URCs for the card as it is now."""
        return f"+CPIN: {CPIN_WORDS.get(self.state, self.absent_urc)}"

    def restart(self) -> None:
        if self.state == "ready" and self.lock:
            self.state = "pin"

    def refusal(self):
        """The +CME ERROR code of a command that needs the card (AT+CIMI...), or None when it may run."""
        return {"absent": NOT_INSERTED, "pin": PIN_REQUIRED, "puk": PUK_REQUIRED,
                "blocked": SIM_FAILURE}.get(self.state)

    # --- commands -------------------------------------------------------------------------------
    async def cpin(self, cmd: ATCommand) -> None:
        m = self.m
        if self.state in ("absent", "blocked"):
            m.cme_error(self.refusal())
        elif cmd.kind == "read":
            m.reply(f"+CPIN: {CPIN_WORDS[self.state]}")
        elif cmd.kind != "write" or not 1 <= len(cmd.args) <= 2:
            raise ValueError("AT+CPIN=<pin>[,<new pin>]")
        elif self.state == "ready":
            m.cme_error(self.not_pending)
        elif self.state == "pin":
            self._enter_pin(cmd.arg(0) or "")
        elif len(cmd.args) != 2:
            m.cme_error(PUK_REQUIRED)  # a PIN alone is no answer to a card that wants its PUK
        else:
            self._enter_puk(cmd.arg(0) or "", _secret(cmd.arg(1), "new PIN", 4, 8))

    def _enter_pin(self, given: str) -> None:
        if given == self.pin:
            self.pin_tries = PIN_TRIES
            self._unlocked()
            return
        self.pin_tries -= 1
        self.m.cme_error(WRONG_PASSWORD)
        if not self.pin_tries:
            self.state = "puk"
            if self.state_urc:
                self.m.urc("+CPIN: SIM PUK")

    def _enter_puk(self, given: str, new_pin: str) -> None:
        if given == self.puk:
            self.pin, self.pin_tries, self.puk_tries = new_pin, PIN_TRIES, PUK_TRIES
            self._unlocked()
            return
        self.puk_tries -= 1
        self.m.cme_error(WRONG_PASSWORD)
        if not self.puk_tries:
            self.state = "blocked"

    def _unlocked(self) -> None:
        self.state = "ready"
        self.m.final("OK")
        self.m.urc("+CPIN: READY")      # then the card's files are read (§3.2)
        self.m.urc("+QIND: SMS DONE")

    async def qpinc(self, cmd: ATCommand) -> None:
        """``+QPINC: <facility>,<PIN tries>,<PUK tries>`` for "SC" (the SIM PIN) and "P2" (PIN2)."""
        if self.state == "absent":
            self.m.cme_error(NOT_INSERTED)
            return
        lines = {"SC": f'+QPINC: "SC",{self.pin_tries},{self.puk_tries}', "P2": f'+QPINC: "P2",{PIN_TRIES},{PUK_TRIES}'}
        if cmd.kind == "read":
            reply_block(self.m, lines.values())
        elif cmd.kind == "write" and len(cmd.args) == 1 and cmd.arg(0) in lines:
            self.m.reply(lines[cmd.arg(0)])
        else:
            raise ValueError('AT+QPINC="SC" or "P2"')
