"""The emulated Quectel module's main UART: AT+IPR (line rate), AT+IFC (RTS/CTS) and AT&W, which
keeps both over a restart — info-and-ports.md §1.6, cmux.md §12.

The new rate applies once the OK has left at the old one; a module restarts at its saved rate.
Two readings the reference leaves open are switches (fakemodem/README.md):

* ``flow_scope`` ("data"): the BG96 manual applies AT+IFC "only for data mode", so in command mode
  the module sends whatever its CTS says; "always": flow control in every mode;
* ``at_w_saves_ifc`` (True): AT&W stores AT+IFC with the rest of the user profile (False: only the
  rate; flow control is off after every restart).
"""
from typing import Tuple

from .atcommand import ATCommand

RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)  # AT+IPR rates (BG96 class)
FLOW_SCOPES = ("data", "always")
IFC_VALUES = (0, 2)  # none, or RTS (first) / CTS (second): no XON/XOFF


class QuectelUart:
    def __init__(self, module, rates=RATES, hardware_flow: bool = True, flow_scope: str = "data",
                 at_w_saves_ifc: bool = True):
        if flow_scope not in FLOW_SCOPES:
            raise ValueError(f"flow_scope is one of {FLOW_SCOPES}, not {flow_scope!r}")
        self.m = module
        self.rates = tuple(rates)
        self.hardware_flow = hardware_flow
        self.flow_scope = flow_scope
        self.at_w_saves_ifc = at_w_saves_ifc
        self.saved_rate = module.line_rate()
        self.ifc = self.saved_ifc = (0, 0)  # <dce_by_dte>,<dte_by_dce>: off from the factory
        module.watch_flow(self.flow)

    def handlers(self):
        return {"+IPR": self.ipr, "+IFC": self.ifc_cmd, "&W": self.save}

    def test_answers(self):
        flow = "(0,2),(0,2)" if self.hardware_flow else "(0),(0)"
        return {"+IPR": [f"+IPR: ({','.join(map(str, self.rates))})"], "+IFC": [f"+IFC: {flow}"]}

    def flow(self) -> Tuple[bool, bool]:
        """(rts, cts) the module runs now: its RTS holds the host's output (<dte_by_dce> 2), its
        CTS is watched before it sends (<dce_by_dte> 2)."""
        if self.flow_scope == "data" and not self.m.data_mode:
            return False, False
        return self.ifc[1] == 2, self.ifc[0] == 2

    def restart(self) -> None:
        """A restart brings the saved rate and flow control back."""
        self.ifc = self.saved_ifc
        if self.saved_rate != self.m.line_rate():
            self.m.set_rate(self.saved_rate)

    async def ipr(self, cmd: ATCommand) -> None:
        """AT+IPR=<rate> (0 for autobaud is not modelled); kept over a restart only after AT&W."""
        if cmd.kind == "read":
            self.m.reply(f"+IPR: {self.m.line_rate() or self.saved_rate or 115200}")
            return
        rate = cmd.number(0, 1, 4_000_000)
        if rate not in self.rates:
            raise ValueError("line rate")
        self.m.final("OK")
        self.m.set_rate(rate)

    async def ifc_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f"+IFC: {self.ifc[0]},{self.ifc[1]}")
            return
        values = (cmd.number(0, 0, 3), cmd.number(1, 0, 3, self.ifc[1]))
        if any(value not in IFC_VALUES for value in values) or (not self.hardware_flow and any(values)):
            raise ValueError("flow control")
        self.ifc = values
        self.m.final("OK")

    async def save(self, cmd: ATCommand) -> None:
        """AT&W: the line rate (and, per ``at_w_saves_ifc``, flow control) now in force is kept."""
        self.saved_rate = self.m.line_rate()
        if self.at_w_saves_ifc:
            self.saved_ifc = self.ifc
        self.m.final("OK")
