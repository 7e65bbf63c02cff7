"""A pseudo-terminal pair: the emulator keeps the master, any serial library opens the slave path."""
import os
import termios
import tty
from typing import Optional

#: termios speed constants (B115200...) -> baud
SPEEDS = {getattr(termios, name): int(name[1:]) for name in dir(termios) if name[:1] == "B" and name[1:].isdigit()}


class PtyPort:
    def __init__(self):
        self.master, self._slave = os.openpty()
        # Raw on the slave side: no echo by the line discipline, no CR/LF translation, no signals.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        # Holding the slave open keeps the master readable between clients (no EIO on close).

    def host_baudrate(self) -> Optional[int]:
        """The line rate whoever opened the port asked for (its termios output speed): a pty has no
        rate of its own, but it keeps what was set, as a UART driver would apply it."""
        try:
            return SPEEDS.get(termios.tcgetattr(self._slave)[5])
        except (OSError, termios.error):
            return None

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
