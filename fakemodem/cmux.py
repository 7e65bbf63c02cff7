"""AT+CMUX on the emulated Quectel module: the UART as a TS 27.010 multiplexer, basic option
(``shared/at-reference/cmux.md``).

After ``AT+CMUX=0,...`` answers OK the UART carries frames only (fakemodem/cmux_frames.py, the
emulator's own codec). DLCI 0 is the control channel; DLCIs 1..``channels`` are virtual ports,
each a full AT command port with a command loop of its own (:meth:`EmulatedModule.serve_port`) and
its own transparent mode, so several sockets can be in data mode at once, one per port, while the
others take commands. Notices (URCs) go where ``AT+QCFG="cmux/urcport"`` says. A close-down (CLD)
ends every channel and the UART is plain AT again; a restart does the same. Nothing makes the
module leave CMUX when its host goes quiet (unless ``idle_exit`` says otherwise).

The reference leaves much open; ``FakeModem("quectel", cmux={...})`` picks the readings (default
first), listed in fakemodem/README.md:

``channels``          4 / n: the virtual ports offered (DLCIs 1..n; BG96: "virtual port 1-4")
``unknown_channel``   "DM" / "silent": answer to SABM on a DLCI that is not offered
``closed_channel``    "DM" / "silent": answer to data on a channel that is not open
``uih_poll``          False / True: the module's UIH frames with P/F set (a BG96 does)
``msc_after_ua``      False / True: an MSC from the module right after each channel's UA (SIM800 does)
``test``              "echo" / "nsc" / "silent": answer to a Test command
``pn``                "nsc" / "accept" / "silent": answer to parameter negotiation
``psc``               "answer" / "silent": answer to a power-saving command
``cld_address``       "rule" / "copy": the CLD response's address, C/R 0 as the rule gives (0x01)
                      or the command's own (0x03, as in Zephyr's test vectors)
``disc0``             "close" / "ignore": DISC on DLCI 0 ends the multiplexer (n_gsm), or is ignored
``urcport``           1 / 0-4: power-on AT+QCFG="cmux/urcport" (0: notices copied to every port)
``default_n1``        127 / 31: N1 when AT+CMUX leaves it out (Quectel M10 / 27.010)
``max_speed``         8 / any: the highest ``<port_speed>`` code taken (8 = 921600, as EG25-G takes)
``long_length``       False / True: two-octet length fields even for short frames (SIMCom A76xx)
``bad_fcs``           "drop" / "accept": what a frame whose FCS fails becomes (esp_modem checks none)
``entry_delay``       0.0 / seconds: frames earlier than this after the OK are not taken...
``early_frame``       "ignore" / "deadlock": ...and are ignored, or leave the multiplexer deaf (BG95)
``exit_delay``        0.0 / seconds: after the CLD response, input is lost for this long
``idle_exit``         None / seconds: leave CMUX after this long without a frame from the host
``escape_scope``      "channel" / "line": the guard times of ``+++`` count one channel's bytes, or
                      every byte on the UART (traffic on another channel breaks an escape)
``settings_scope``    "module" / "channel": ATE and AT+CMEE set the module, or only their channel
``virtual_dtr``       False / True: an MSC with RTC clear ends data mode on its channel (DTR drop)
``flow_control``      "none" / "msc" / "fcoff": the brake the module puts on the host when a
                      data-mode socket cannot take the host's bytes as fast as they come
``output_order``      "turns" / "fifo": the virtual ports' frames take the UART a frame each in
                      turn, about 50 ms of the line queued ahead (a command's answer waits behind
                      a frame of each busy channel), or in the order written, behind every byte
                      already queued (behind every data channel's backlog)
"""
import asyncio
import logging
from collections import deque
from typing import Dict, List, Optional

from .atcommand import ATCommand
from .cmux_frames import DISC, DM, FLAG, KNOWN, SABM, UA, UI, UIH, Parser, build, control_message, control_messages
from .serial_side import SerialSide

log = logging.getLogger("fakemodem.cmux")

OPTIONS = {
    "channels": 4, "unknown_channel": "DM", "closed_channel": "DM", "uih_poll": False, "msc_after_ua": False,
    "test": "echo", "pn": "nsc", "psc": "answer", "cld_address": "rule", "disc0": "close", "urcport": 1,
    "default_n1": 127, "max_speed": 8, "long_length": False, "bad_fcs": "drop", "entry_delay": 0.0,
    "early_frame": "ignore", "exit_delay": 0.0, "idle_exit": None, "escape_scope": "channel",
    "settings_scope": "module", "virtual_dtr": False, "flow_control": "none", "output_order": "turns",
}
CHOICES = {
    "unknown_channel": ("DM", "silent"), "closed_channel": ("DM", "silent"), "uih_poll": (False, True),
    "msc_after_ua": (False, True), "test": ("echo", "nsc", "silent"), "pn": ("nsc", "accept", "silent"),
    "psc": ("answer", "silent"), "cld_address": ("rule", "copy"), "disc0": ("close", "ignore"),
    "urcport": (0, 1, 2, 3, 4), "default_n1": (127, 31), "long_length": (False, True), "bad_fcs": ("drop", "accept"),
    "early_frame": ("ignore", "deadlock"), "escape_scope": ("channel", "line"),
    "settings_scope": ("module", "channel"), "virtual_dtr": (False, True), "flow_control": ("none", "msc", "fcoff"),
    "output_order": ("turns", "fifo"),
}
# control message types (cmux.md §8)
NSC, TEST, PSC, FCOFF, PN, FCON, CLD, MSC = 0x04, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38
NAMES = {NSC: "NSC", TEST: "Test", PSC: "PSC", 0x14: "RLS", FCOFF: "FCoff", PN: "PN", 0x24: "RPN", FCON: "FCon",
         CLD: "CLD", 0x34: "SNC", MSC: "MSC"}
# AT+CMUX parameters: (low, high) of <mode>,<subset>,<port_speed>,<N1>,<T1>,<N2>,<T2>,<T3>,<k>; the
# ranges of two other vendors' manuals (cmux.md §2.2): what BG9x/EC2x take is not documented
RANGES = [(0, 0), (0, 0), (1, 8), (1, 32768), (1, 255), (0, 100), (2, 255), (1, 255), (1, 7)]
DEFAULTS = [0, 0, 5, 127, 10, 3, 30, 10, 2]
FLOW_HIGH = 65536  # bytes waiting for a data-mode socket's peer before the module brakes the host
FLOW_CHECK = 0.01
AHEAD_SECONDS = 0.05  # output_order "turns": this much of the line's time queued on the UART, the rest in turns
AHEAD_MIN = 256       # ...but at least this many bytes (and 4096 on an unpaced line)


def options(given: Optional[dict]) -> dict:
    chosen = dict(OPTIONS)
    for name, value in (given or {}).items():
        if name not in OPTIONS:
            raise ValueError(f"no CMUX switch {name!r}; the switches are {', '.join(OPTIONS)}")
        if name in CHOICES and value not in CHOICES[name]:
            raise ValueError(f"cmux {name} is one of {CHOICES[name]}, not {value!r}")
        chosen[name] = value
    if not isinstance(chosen["channels"], int) or not 1 <= chosen["channels"] <= 61:
        raise ValueError("cmux channels is 1..61")
    return chosen


class ChannelOutput:
    """Where a virtual port's output goes: UIH frames on the UART, held while the host has stopped
    the channel (MSC) or every channel (FCoff)."""

    def __init__(self, mux: "Multiplexer", dlci: int):
        self.mux = mux
        self.dlci = dlci
        self.stopped = False
        self.held = bytearray()

    @property
    def baudrate(self):
        return self.mux.uart.baudrate

    @property
    def backlog(self) -> int:
        return self.mux.uart.backlog + self.mux.queued.get(self.dlci, 0) + len(self.held)

    def write(self, data: bytes) -> None:
        self.held += data
        self.flush()

    def flush(self) -> None:
        if self.held and not self.stopped and not self.mux.all_stopped:
            data, self.held = bytes(self.held), bytearray()
            self.mux.send(self.dlci, data)


class ChannelPort(SerialSide):
    """One virtual port: command lines and payloads in, answers out in UIH frames."""

    def __init__(self, mux: "Multiplexer", dlci: int):
        uart_side = mux.module.uart_side
        recorder = uart_side.recorder.channel(dlci) if uart_side.recorder is not None else None
        super().__init__(asyncio.get_running_loop(), ChannelOutput(mux, dlci), uart_side.faults, recorder)
        self.dlci = dlci
        self.terminator = uart_side.terminator
        self.listening = True
        self.received_commands = uart_side.received_commands  # one log of every port's lines, in order
        # with settings_scope "channel", ATE and AT+CMEE of its own, from their power-on values
        own = mux.o["settings_scope"] == "channel"
        self.own_echo: Optional[bool] = mux.module.power_on_echo if own else None
        self.own_cmee: Optional[int] = mux.module.power_on_cmee if own else None
        self.task: Optional[asyncio.Task] = None


class Multiplexer:
    """One multiplexer session, from AT+CMUX's OK to the close-down (or a restart)."""

    def __init__(self, service: "CmuxService", parameters: List[int]):
        self.service = service
        self.module = service.m
        self.o = service.options
        self.uart = self.module.uart_side.line
        self.n1 = parameters[3]
        self.parser = Parser(self.n1 if self.o["bad_fcs"] == "drop" else 0x7FFF, check=self.o["bad_fcs"] == "drop")
        self.ports: Dict[int, ChannelPort] = {}
        self.control_open = False
        self.all_stopped = False
        self.deaf = False  # an early frame deadlocked it (early_frame "deadlock")
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.ready_at = loop.time() + self.o["entry_delay"]
        self.heard = loop.time()
        self._idle_timer = None
        self._flow_timer = None
        self._braked: set = set()  # channels stopped by our MSC (flow_control "msc")
        self._braking = False      # FCoff sent (flow_control "fcoff")
        # output_order "turns": each port's frames not yet on the UART (and their octets), the ports in turn
        self._frames: Dict[int, deque] = {}
        self.queued: Dict[int, int] = {}
        self._turns: deque = deque()
        self._pump_timer = None
        if self.o["idle_exit"]:
            self._idle_timer = loop.call_later(self.o["idle_exit"], self._check_idle)

    # --- input ----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        now = self.loop.time()
        if self.deaf:
            return
        if now < self.ready_at:
            if FLAG in data and self.o["early_frame"] == "deadlock":
                log.warning("a frame within %g s of AT+CMUX's OK: the multiplexer stops answering", self.o["entry_delay"])
                self.deaf = True
            return
        self.heard = now
        for frame in self.parser.feed(data):
            self._frame(frame)
            if self.service.session is not self:
                return  # closed down: what follows is plain AT
        if self.parser.noise:
            recorder = self.module.uart_side.recorder
            if recorder is not None:
                recorder.ignored(bytes(self.parser.noise))
            self.parser.noise.clear()

    def _frame(self, frame) -> None:
        kind, dlci = frame.control, frame.dlci
        if kind not in (UIH, UI):
            self._record("in", dlci, KNOWN[kind])
        if kind == SABM:
            self._open(dlci)
        elif kind == DISC:
            self._disconnect(dlci)
        elif kind in (UIH, UI):
            if dlci == 0 and self.control_open:
                self._control(frame.data)
            elif dlci in self.ports:
                port = self.ports[dlci]
                port.feed(frame.data)
                if self.o["escape_scope"] == "line":
                    self._break_other_escapes(dlci)
                if port.data_mode is not None:
                    self.watch_flow()
            elif self.o["closed_channel"] == "DM":
                self._answer(dlci, DM)

    def _open(self, dlci: int) -> None:
        if dlci == 0:
            self.control_open = True
            self._answer(0, UA)
        elif not self.control_open or not 1 <= dlci <= self.o["channels"]:
            if self.o["unknown_channel"] == "DM":
                self._answer(dlci, DM)
        else:
            self._answer(dlci, UA)
            if dlci not in self.ports:
                port = self.ports[dlci] = ChannelPort(self, dlci)
                port.task = asyncio.ensure_future(self.module.serve_port(port))
            if self.o["msc_after_ua"]:
                self._send_control(control_message(MSC, True, bytes([dlci << 2 | 3, 0x0D])))

    def _disconnect(self, dlci: int) -> None:
        if dlci == 0:
            if self.o["disc0"] == "close":
                self._drain()
                self._answer(0, UA)
                self.service.end(self)
        elif dlci in self.ports:
            self._drain(dlci)
            self._answer(dlci, UA)
            self._close_port(self.ports.pop(dlci))
        else:
            self._answer(dlci, DM)

    def _break_other_escapes(self, dlci: int) -> None:
        """With escape_scope "line": a byte on any channel is a byte within another's guard time."""
        for other, port in self.ports.items():
            if other != dlci and port.data_mode is not None:
                port.data_mode.disturb()

    # --- the control channel --------------------------------------------------------------------
    def _control(self, data: bytes) -> None:
        for kind, command, value in control_messages(data):
            self._record("in", 0, self._describe(UIH, control_message(kind, command, value)))
            if not command:
                continue  # the host's answers to our own MSC or FCoff
            answer = control_message(kind, False, value)
            if kind == CLD:
                self._drain()
                address = 0x03 if self.o["cld_address"] == "copy" else 0x01
                self._raw(build(0, UIH, answer, command_bit=address == 0x03, poll=self.o["uih_poll"]), 0, "CLD response")
                self.service.end(self)
                return
            if kind == MSC and len(value) >= 2:
                self._send_control(answer)
                self._modem_status(value[0] >> 2, value[1])
            elif kind in (FCOFF, FCON):
                self._send_control(answer)
                self.all_stopped = kind == FCOFF
                self._flush_all()
            elif kind == TEST:
                self._by_switch("test", answer, kind)
            elif kind == PN and len(value) == 8:
                n1 = min(value[4] | value[5] << 8, self.n1)
                self._by_switch("pn", control_message(PN, False, value[:4] + bytes([n1 & 0xFF, n1 >> 8]) + value[6:]),
                                kind)
            elif kind == PSC:
                if self.o["psc"] == "answer":
                    self._send_control(answer)
            else:
                self._send_control(control_message(NSC, False, bytes([kind << 2 | 3])))

    def _by_switch(self, name: str, answer: bytes, kind: int) -> None:
        choice = self.o[name]
        if choice in ("echo", "accept"):
            self._send_control(answer)
        elif choice == "nsc":
            self._send_control(control_message(NSC, False, bytes([kind << 2 | 3])))

    def _modem_status(self, dlci: int, signals: int) -> None:
        port = self.ports.get(dlci)
        if port is None:
            return
        port.line.stopped = bool(signals & 0x02) or not signals & 0x08  # FC set, or RTR clear
        port.line.flush()
        if self.o["virtual_dtr"] and not signals & 0x04 and port.data_mode is not None:
            port.data_mode.escape()  # RTC clear: DTR dropped, back to command mode

    def _flush_all(self) -> None:
        for port in self.ports.values():
            port.line.flush()

    # --- what the host's data-mode sockets ask of the module (flow_control) -----------------------
    def watch_flow(self) -> None:
        """Called as a data-mode port hands the host's bytes to its socket: brake the host while
        some socket's peer is slower than the line."""
        if self.o["flow_control"] == "none" or self._flow_timer is not None:
            return
        self._flow_timer = self.loop.call_soon(self._check_flow)

    def _check_flow(self) -> None:
        self._flow_timer = None
        slow = {dlci for dlci, port in self.ports.items() if self.service.backlog_of(port) > FLOW_HIGH}
        if self.o["flow_control"] == "fcoff":
            if bool(slow) != self._braking:
                self._braking = bool(slow)
                self._send_control(control_message(FCOFF if slow else FCON, True))
        else:
            for dlci in slow ^ self._braked:
                signals = 0x0F if dlci in slow else 0x0D  # EA, RTC, RTR, and FC while braking
                self._send_control(control_message(MSC, True, bytes([dlci << 2 | 3, signals])))
            self._braked = slow
        if slow:
            self._flow_timer = self.loop.call_later(FLOW_CHECK, self._check_flow)

    # --- output ---------------------------------------------------------------------------------
    def send(self, dlci: int, data: bytes) -> None:
        """A port's output, in UIH frames of at most N1 octets."""
        poll, long_length = self.o["uih_poll"], self.o["long_length"]
        n1 = self.n1
        frames = [build(dlci, UIH, data[i:i + n1], command_bit=False, poll=poll, long_length=long_length)
                  for i in range(0, len(data), n1)]
        if self.o["output_order"] == "fifo":
            self.uart.write(b"".join(frames))
            return
        waiting = self._frames.setdefault(dlci, deque())
        if not waiting:
            self._turns.append(dlci)
        waiting.extend(frames)
        self.queued[dlci] = self.queued.get(dlci, 0) + sum(map(len, frames))
        self._pump()

    def _ahead(self) -> int:
        rate = self.uart.baudrate
        return max(AHEAD_MIN, int(rate / 10 * AHEAD_SECONDS)) if rate else 4096

    def _pump(self) -> None:
        """A frame of each waiting port in turn while the UART has less than ``_ahead`` queued
        (the module's own frames, control and UA/DM, go straight to the UART: they come first)."""
        ahead = self._ahead()
        while self._turns and self.uart.backlog < ahead:
            dlci = self._turns.popleft()
            waiting = self._frames[dlci]
            self._put(dlci, waiting.popleft())
            if waiting:
                self._turns.append(dlci)
        if self._turns and self._pump_timer is None:
            rate = self.uart.baudrate
            wait = ahead / 2 / (rate / 10) if rate else 0.002
            self._pump_timer = self.loop.call_later(max(wait, 0.001), self._pumped)

    def _pumped(self) -> None:
        self._pump_timer = None
        self._pump()

    def _put(self, dlci: int, frame: bytes) -> None:
        self.queued[dlci] -= len(frame)
        self.uart.write(frame)

    def _drain(self, dlci: Optional[int] = None) -> None:
        """Before a channel (or the multiplexer) closes: what its port wrote goes out first."""
        for each in ([dlci] if dlci is not None else list(self._turns)):
            waiting = self._frames.get(each)
            while waiting:
                self._put(each, waiting.popleft())
            if each in self._turns:
                self._turns.remove(each)

    def _answer(self, dlci: int, kind: int) -> None:
        """UA or DM, with F set, C/R 1 as a response of the responder."""
        self._raw(build(dlci, kind, command_bit=True, poll=True), dlci, KNOWN[kind])

    def _send_control(self, message: bytes) -> None:
        self._raw(build(0, UIH, message, command_bit=False, poll=self.o["uih_poll"]), 0,
                  self._describe(UIH, message))

    def _raw(self, frame: bytes, dlci: int, description: str) -> None:
        self._record("out", dlci, description)
        self.uart.write(frame)

    def _record(self, direction: str, dlci: int, description: str) -> None:
        recorder = self.module.uart_side.recorder
        if recorder is not None:
            recorder.frame(direction, dlci, description)

    @staticmethod
    def _describe(kind: int, control: bytes) -> str:
        """``SABM``, ``UA``..., or for the control channel's messages ``CLD``, ``MSC FC=1``..."""
        if kind not in (UIH, UI) or not control:
            return KNOWN.get(kind, hex(kind))
        words = []
        for message_kind, command, value in control_messages(control):
            word = NAMES.get(message_kind, f"type {message_kind:#x}") + ("" if command else " response")
            if message_kind == MSC and len(value) >= 2:
                word += f" DLCI {value[0] >> 2} FC={value[1] >> 1 & 1} RTC={value[1] >> 2 & 1} RTR={value[1] >> 3 & 1}"
            words.append(word)
        return ", ".join(words)

    # --- ending ---------------------------------------------------------------------------------
    def _close_port(self, port: ChannelPort) -> None:
        if port.task is not None:
            port.task.cancel()
        self.module.channel_closed(port)  # its data mode ends with it, without a word
        port.close()

    def close(self) -> None:
        """The session ends (close-down, restart, idle): frames still waiting their turn are lost."""
        for timer in (self._idle_timer, self._flow_timer, self._pump_timer):
            if timer is not None:
                timer.cancel()
        for port in list(self.ports.values()):
            self._close_port(port)
        self.ports.clear()

    def _check_idle(self) -> None:
        self._idle_timer = None
        left = self.heard + self.o["idle_exit"] - self.loop.time()
        if left > 0:
            self._idle_timer = self.loop.call_later(left, self._check_idle)
        elif self.service.session is self:
            log.info("no frame for %g s: the module leaves CMUX", self.o["idle_exit"])
            self.service.end(self)


class CmuxService:
    """AT+CMUX and AT+QCFG="cmux/urcport", and the session while the line is multiplexed."""

    def __init__(self, module, given: Optional[dict]):
        self.m = module
        self.options = options(given)
        self.parameters = list(DEFAULTS)
        self.urcport = self.options["urcport"]
        self.session: Optional[Multiplexer] = None
        self._deaf_until = 0.0

    def handlers(self):
        return {"+CMUX": self.cmux, "+QCFG": self.qcfg}

    def test_answers(self):
        ranges = ",".join(f"({low})" if low == high else f"({low}-{high})" for low, high in self._ranges())
        return {"+CMUX": [f"+CMUX: {ranges}"]}

    def _ranges(self):
        ranges = list(RANGES)
        ranges[2] = (1, self.options["max_speed"])
        return ranges

    async def cmux(self, cmd: ATCommand) -> None:
        m = self.m
        if cmd.kind == "read":
            m.reply("+CMUX: " + ",".join(map(str, self.parameters)))
            return
        if self.session is not None:
            m.cme_error(4)  # multiplexing already: 27.007 forbids AT+CMUX on a channel
            return
        if cmd.kind != "write" or len(cmd.args) > len(RANGES):
            raise ValueError("AT+CMUX takes one to nine values")
        given = [cmd.number(i, low, high) if i < len(cmd.args) else None for i, (low, high) in enumerate(self._ranges())]
        defaults = list(DEFAULTS)
        defaults[3] = self.options["default_n1"]
        self.parameters = [value if value is not None else default for value, default in zip(given, defaults)]
        m.final("OK")
        self.start()

    def start(self) -> None:
        """From the byte after the OK, the UART carries frames (the rate stays the UART's)."""
        self.session = Multiplexer(self, self.parameters)
        self.m.uart_side.note("cmux")
        self.m.uart_side.divert(self.session)

    def end(self, session: Multiplexer) -> None:
        """Back to plain AT on the UART (close-down, restart, idle)."""
        if self.session is not session:
            return
        self.session = None
        session.close()
        uart_side = self.m.uart_side
        delay = self.options["exit_delay"]
        if delay:
            uart_side.divert(_Deaf(asyncio.get_running_loop().time() + delay, uart_side))
        else:
            uart_side.divert(None)
        uart_side.note("cmux end")

    def stop(self) -> None:
        """The module restarts: whatever the multiplexer was doing is gone."""
        if self.session is not None:
            self.end(self.session)
        self.m.uart_side.divert(None)
        self.urcport = self.options["urcport"]

    async def qcfg(self, cmd: ATCommand) -> None:
        """AT+QCFG="cmux/urcport"[,<n>] (BG96 manual §4.2.20); no other AT+QCFG setting is emulated."""
        if (cmd.arg(0) or "").lower() != "cmux/urcport":
            raise ValueError("AT+QCFG setting not emulated")
        if len(cmd.args) == 1:
            self.m.reply(f'+QCFG: "cmux/urcport",{self.urcport}')
            return
        self.urcport = cmd.number(1, 0, 4)
        self.m.final("OK")

    # --- for the module ---------------------------------------------------------------------------
    def notice_ports(self) -> List[SerialSide]:
        """Where a notice goes: the UART, or the virtual port(s) ``cmux/urcport`` names (none if
        that port is not open: the notice is lost, as drivers report)."""
        session = self.session
        if session is None:
            return [self.m.uart_side]
        if self.urcport == 0:
            return [session.ports[dlci] for dlci in sorted(session.ports)]
        port = session.ports.get(self.urcport)
        return [port] if port is not None else []

    def backlog_of(self, port: ChannelPort) -> int:
        """Bytes the host sent through ``port``'s data mode that its socket's peer has not taken."""
        return self.m.carried_backlog(port) if port.data_mode is not None else 0


class _Deaf:
    """What the UART does for ``exit_delay`` after a close-down: nothing, then plain AT again."""

    def __init__(self, until: float, uart_side: SerialSide):
        self.until = until
        self.uart_side = uart_side

    def feed(self, data: bytes) -> None:
        if asyncio.get_running_loop().time() >= self.until:
            self.uart_side.divert(None)
            self.uart_side.feed(data)
