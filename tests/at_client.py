"""A plain pyserial client for tests that talk to the emulator byte for byte, with no atsock code:
what a third-party driver does, reduced to writing a line and reading until a result code."""
import re
import time

import serial

# a final result code, as both dialects frame it (ESP's info lines have no leading CR LF, so the
# pattern looks only at the result line itself)
FINAL = rb"\r\n(OK|ERROR|FAIL|SEND OK|SEND FAIL|NO CARRIER|CONNECT|\+CME ERROR: [^\r]*)\r\n"


class AtPort:
    def __init__(self, path: str, terminator: bytes = b"\r", baudrate: int = 115200):
        self.port = serial.Serial(path, baudrate, timeout=0.02)
        self.terminator = terminator
        self._buffer = bytearray()  # read from the port, not yet handed to the test

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def _fill(self) -> bool:
        data = self.port.read(max(1, self.port.in_waiting))
        self._buffer += data
        return bool(data)

    def listen_at(self, baudrate: int) -> None:
        """Switch the port's rate (as a host does after the module's OK to AT+IPR / AT+UART_CUR),
        dropping whatever was read at the old one."""
        self.port.baudrate = baudrate
        self._buffer.clear()

    def read_until(self, pattern: bytes, timeout: float = 5.0) -> bytes:
        """Bytes up to and including the first match of the regex ``pattern``."""
        wanted = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = wanted.search(self._buffer)
            if found:
                out = bytes(self._buffer[: found.end()])
                del self._buffer[: found.end()]
                return out
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {pattern!r} in {bytes(self._buffer)[-200:]!r}")
            self._fill()

    def read_exact(self, count: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self._buffer) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._buffer)} of {count} bytes")
            self._fill()
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        return out

    def read_quiet(self, quiet: float = 0.2) -> bytes:
        """Whatever arrives until the line has been silent for ``quiet`` seconds."""
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            if self._fill():
                last = time.monotonic()
        out = bytes(self._buffer)
        self._buffer.clear()
        return out

    def sync(self, timeout: float = 10.0) -> None:
        """``AT`` until the module answers ``OK``, as a driver starts; what it printed before is
        dropped. Its boot text cannot be waited for: it may have come before this port was opened,
        and opening a port discards what waited in it (pyserial does, as real serial ports lose
        what a module printed before anyone listened)."""
        deadline = time.monotonic() + timeout
        while True:
            self.write(b"AT" + self.terminator)
            try:
                self.read_until(rb"\r\nOK\r\n", timeout=1.0)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        self.read_quiet(0.3)  # the answer to a probe sent while the first answer was on its way

    def command(self, line: str, final: bytes = FINAL, timeout: float = 5.0) -> bytes:
        """Write one command line; return everything up to its final result code."""
        self.write(line.encode("latin-1") + self.terminator)
        return self.read_until(final, timeout)

    def close(self) -> None:
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
