"""A pseudo-terminal pair: the emulator keeps the master, any serial library opens the slave path."""
import os
import tty


class PtyPort:
    def __init__(self):
        self.master, self._slave = os.openpty()
        # Raw on the slave side: no echo by the line discipline, no CR/LF translation, no signals.
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        # Holding the slave open keeps the master readable between clients (no EIO on close).

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
