"""A serial port spoken to a line at a time, with no driver in between: for the console and port probes.

pyserial opens the port and a reader thread feeds whatever arrives through atsock's sans-I/O
:class:`~atsock.channel.ATChannel`, which drops the echo, ends a command at its final result code
and files every line that comes outside a command as unsolicited. Nothing is sent but what the
caller sends: no ``ATE0``, no bring-up.
"""
import threading
import time
from typing import Callable, List, Optional, Tuple

import serial

from .. import atcmd
from ..channel import ATChannel, Command, Event, Final, Intermediate
from ..escape import DEFAULT_TIMING, ESCAPE, stale_escape_waits

MAX_LINE = 4096
EXTRA_FINALS = frozenset({"FAIL", "NO CARRIER", "SEND OK", "SEND FAIL"})

Answer = Tuple[List[str], str]


class SerialAT:
    def __init__(self, port: str, *, baudrate: int = 115200, eol: bytes = b"\r\n", exclusive: bool = False,
                 on_event: Optional[Callable[[Event], None]] = None,
                 on_bytes: Optional[Callable[[str, bytes], None]] = None):
        """``on_event(event)`` sees every line as it arrives (on the reader thread), ``on_bytes(direction,
        data)`` every byte in both directions (``"->"``, ``"<-"``) for a trace."""
        self.serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05, exclusive=exclusive or None)
        self._channel = ATChannel(terminator=eol)
        self._on_event = on_event
        self._on_bytes = on_bytes
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._lines: List[str] = []
        self._final: Optional[str] = None
        self._closed = False
        self.error: Optional[BaseException] = None
        self._reader = threading.Thread(target=self._read_loop, name="atsock-serial-at", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        while not self._closed:
            try:
                data = self.serial.read(max(1, min(self.serial.in_waiting, 65536)))
            except (serial.SerialException, OSError, TypeError) as exc:  # TypeError: closed under us
                if not self._closed:
                    self._fail(exc)
                return
            if not data:
                continue
            if self._on_bytes:
                self._on_bytes("<-", data)
            with self._lock:
                events = self._channel.receive(data)
            for event in events:
                if self._on_event:
                    self._on_event(event)
                with self._lock:
                    if isinstance(event, Intermediate):
                        self._lines.append(event.text)
                    elif isinstance(event, Final):
                        self._final = event.text
                        self._answered.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = exc
            self._answered.notify_all()

    def send(self, text: str) -> None:
        """Write one command line (checked: printable, no CR/LF) and expect its answer."""
        atcmd.printable(text, "command", MAX_LINE)
        with self._lock:
            self._lines, self._final = [], None
            data = self._channel.begin(Command(text, extra_finals=EXTRA_FINALS))
        if self._on_bytes:
            self._on_bytes("->", data)
        self.serial.write(data)

    def wait(self, timeout: Optional[float], give_up: bool = True) -> Optional[Answer]:
        """(information lines, final result) of the command sent last, or None after ``timeout``; with
        ``give_up`` the command is then abandoned (a late answer shows up as unsolicited lines)."""
        with self._answered:
            self._answered.wait_for(lambda: self._final is not None or self.error is not None, timeout)
            if self.error is not None:
                raise OSError(f"{self.serial.port}: {self.error}")
            if self._final is None:
                if give_up:
                    self._channel.abandon()
                return None
            return list(self._lines), self._final

    def abandon(self) -> None:
        """Stop waiting for the answer of the command in flight (Ctrl-C in the console)."""
        with self._lock:
            self._channel.abandon()

    def leave_data_mode(self, unanswered_for: float) -> None:
        """``+++`` between guard silences, for a module an earlier program left in data mode (see
        :mod:`atsock.escape`); what it says to that is dropped."""
        before, after = stale_escape_waits(DEFAULT_TIMING, unanswered_for)
        time.sleep(before)
        if self._on_bytes:
            self._on_bytes("->", ESCAPE)
        self.serial.write(ESCAPE)
        time.sleep(after)
        self.serial.write(self._channel.terminator)  # ends the line a module in command mode began
        time.sleep(0.2)
        self.abandon()

    def exchange(self, text: str, timeout: float) -> Optional[Answer]:
        self.send(text)
        return self.wait(timeout)

    def close(self) -> None:
        self._closed = True
        self._reader.join(timeout=1)
        self.serial.close()

    def __enter__(self) -> "SerialAT":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
