"""Quectel's UART settings (info-and-ports.md §1.6, cmux.md §12): ``AT+IPR`` moves the rate after
its OK, ``AT+IFC=2,2`` turns RTS/CTS on, ``AT&W`` keeps them across a restart."""
from atsock.wire import atcmd
from atsock.wire.linerate import LineCommands

MAX_RATE = 4_000_000  # the highest rate any Quectel AT+IPR lists
QUECTEL_VID = 0x2C7C  # its USB interfaces (info-and-ports.md §2): no line rate there


class QuectelLine(LineCommands):
    usb_vendor = QUECTEL_VID

    def rate(self, baudrate: int, rtscts: bool) -> atcmd.CommandLine:
        return atcmd.build("AT+IPR", atcmd.number(baudrate, 1, MAX_RATE, "baud rate"))

    def flow(self, rtscts: bool) -> atcmd.CommandLine:
        method = atcmd.number(2 if rtscts else 0, 0, 2)  # <dce_by_dte> RTS, <dte_by_dce> CTS (or none)
        return atcmd.build("AT+IFC", method, method)

    def save(self, baudrate: int, rtscts: bool) -> atcmd.CommandLine:
        return atcmd.build("AT&W")
