"""A serial port spoken to a line at a time, with no driver in between: for the console and port probes.

pyserial opens the port and a reader thread feeds whatever arrives through atsock's sans-I/O
:class:`~atsock.wire.channel.ATChannel`, which drops the echo, ends a command at its final result code
and files every line that comes outside a command as unsolicited. Nothing is sent but what the
caller sends: no ``ATE0``, no bring-up. The port is opened exclusively, as ``open_modem`` opens it,
unless the caller asks otherwise; what crosses it goes to the wire trace (:mod:`atsock.wire.wiretrace`).
"""
import threading
import time
from typing import Callable, List, Optional, Tuple

import serial

from ..wire import atcmd, wiretrace
from ..wire.channel import ATChannel, Command, Event, Final, Intermediate, Prompt
from ..wire.escape import DEFAULT_TIMING, stale_escape_waits
from ..wire.transport import open_port

MAX_LINE = 4096
SAMPLE = 256
EXTRA_FINALS = frozenset({"FAIL", "NO CARRIER", "SEND OK", "SEND FAIL", "CONNECT"})

PROMPT_AFTER_OK = ("AT+CIPSEND",)  # ESP-AT answers these OK, then the prompt (esp-at.md)
#: 3GPP and Quectel commands that prompt as soon as their CR arrives: they end with CR alone
PROMPT_AFTER_CR = ("AT+CMGS", "AT+CMGW", "AT+QISEND", "AT+QSSLSEND", "AT+QFUPL")
OK_BEFORE_PROMPT = frozenset({"OK"})
PROMPT = ">"  # the final of an Answer that is the module asking for data (send_payload goes on)
ESCAPE = "+++"

Answer = Tuple[List[str], str]


class SerialAT:
    def __init__(self, port: str, *, baudrate: int = 115200, eol: bytes = b"\r\n", exclusive: bool = True,
                 on_event: Optional[Callable[[Event], None]] = None):
        """``on_event(event)`` sees every line as it arrives (on the reader thread)."""
        self.serial = open_port(port, baudrate, exclusive)
        self.serial.timeout = 0.05
        self._channel = ATChannel(terminator=eol)
        self._on_event = on_event
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._lines: List[str] = []
        self._final: Optional[str] = None
        self._prompted = False
        self.sample = bytearray()  # the first bytes the port gave: noise means the wrong line rate
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
            if wiretrace.tracing():
                wiretrace.received(data)
            if len(self.sample) < SAMPLE:
                self.sample += data[:SAMPLE - len(self.sample)]
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
                    elif isinstance(event, Prompt):
                        self._prompted = True
                        self._answered.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = exc
            self._answered.notify_all()

    def send(self, text: str) -> None:
        """Write one command line (checked: printable, no CR/LF) and expect its answer."""
        atcmd.printable(text, "command", MAX_LINE)
        self._write(self._begin(text))

    def _begin(self, text: str) -> bytes:
        with self._lock:
            self._lines, self._final, self._prompted = [], None, False
            not_final = OK_BEFORE_PROMPT if text.upper().startswith(PROMPT_AFTER_OK) else frozenset()
            line = self._channel.begin(Command(text, extra_finals=EXTRA_FINALS, not_final=not_final))
        if line.endswith(b"\r\n") and text.upper().startswith(PROMPT_AFTER_CR):
            return line[:-1]  # the LF would reach the module after its prompt: the first byte of the data
        return line

    def _write(self, data: bytes) -> None:
        if wiretrace.tracing():
            wiretrace.sent(data)
        self.serial.write(data)

    def send_payload(self, data: bytes) -> None:
        """The data a ``>`` prompt asked for (ended by Ctrl-Z, or ESC to cancel, where the command
        wants that); the command's final result is then waited for as usual."""
        with self._lock:
            self._prompted = False
        self._write(data)

    def escape(self, guard: float) -> None:
        """``+++`` alone between two silences of ``guard`` seconds: a module in data mode goes back
        to command mode (Quectel answers ``OK``; ESP-AT leaves passthrough without a word)."""
        time.sleep(guard)
        self._begin(ESCAPE)
        self._write(ESCAPE.encode("ascii"))
        time.sleep(guard)

    def wait(self, timeout: Optional[float], give_up: bool = True) -> Optional[Answer]:
        """(information lines, final result) of the command sent last, with :data:`PROMPT` as the
        final when the module asks for data; None after ``timeout``, and with ``give_up`` the command
        is then abandoned (a late answer shows up as unsolicited lines)."""
        with self._answered:
            self._answered.wait_for(lambda: self._final is not None or self._prompted or self.error is not None,
                                    timeout)
            if self.error is not None:
                raise OSError(f"{self.serial.port}: {self.error}")
            if self._final is None and self._prompted:
                return list(self._lines), PROMPT
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
        :mod:`atsock.wire.escape`), then a line end (a module in command mode took the ``+`` for the
        start of a line); what it says to all that is dropped."""
        before, after = stale_escape_waits(DEFAULT_TIMING, unanswered_for)
        time.sleep(before)
        self._write(ESCAPE.encode("ascii"))
        time.sleep(after)
        self._write(self._channel.terminator)
        time.sleep(0.2)  # (its ERROR, if it answers one, comes and goes unheeded)
        self.abandon()

    @property
    def noisy(self) -> bool:
        """The port gave bytes that are not text (most likely it runs at another line rate)."""
        return bool(self.sample) and not wiretrace.is_text(bytes(self.sample))

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
