"""ESP-AT's UART settings (esp-at.md §3, §6): ``AT+UART_CUR=<baud>,8,1,0,<flow>`` moves the rate
after its OK and sets RTS/CTS (flow 3: both) until the next restart; ``AT+UART_DEF`` the same,
kept in flash; ``AT+UART_DEF?`` tells the rate the module restarts at."""
from typing import Optional

from atsock.wire import atcmd
from atsock.wire.fields import parse_int, split_fields
from atsock.wire.linerate import LineCommands, standard

RATE_RANGE = (110, 5_000_000)


class EspLine(LineCommands):
    carries_flow = True

    def rate(self, baudrate: int, rtscts: bool) -> atcmd.CommandLine:
        return self._uart("AT+UART_CUR", baudrate, rtscts)

    def save(self, baudrate: int, rtscts: bool) -> atcmd.CommandLine:
        return self._uart("AT+UART_DEF", baudrate, rtscts)

    @staticmethod
    def _uart(name: str, baudrate: int, rtscts: bool) -> atcmd.CommandLine:
        return atcmd.build(name, atcmd.number(baudrate, *RATE_RANGE, "baud rate"), atcmd.number(8, 5, 8),
                           atcmd.number(1, 1, 3), atcmd.number(0, 0, 2), atcmd.number(3 if rtscts else 0, 0, 3))

    boot_query = atcmd.query("AT+UART_DEF")

    @staticmethod
    def boot_rate(values) -> Optional[int]:
        """The rate an ``AT+UART_DEF?`` answer (its values after ``+UART_DEF:``) restarts at; the
        firmware reports what its clock divider makes (115273 for 115200), so the nearest
        standard rate is taken."""
        for value in values:
            rate = parse_int(split_fields(value)[0], *RATE_RANGE)
            if rate is not None:
                return standard(rate)
        return None
