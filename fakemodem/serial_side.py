"""The module's side of the serial line: command lines and payloads in, answers out.

:class:`SerialSide` knows nothing of file descriptors or line rates. Bytes from the host arrive
through :meth:`SerialSide.feed` (the UART calls it, a test may call it directly); what the module
writes goes to ``line.write`` (the UART, or anything with ``write(bytes)`` and ``backlog``). This
keeps the command loop testable in-process and lets the UART pace bytes on its own.
"""
import asyncio
from collections import deque
from typing import Callable, Optional

MAX_LINE = 4096  # no module keeps a command line longer than this; the rest is dropped


class SerialSide:
    """Bytes from the host in, bytes to the host out, as a module's firmware sees them.

    ``terminator`` ends a command line (CR for Quectel, CR LF for ESP-AT). With ``busy_reply`` set,
    a command line that arrives while the module is still executing one is answered with it and
    discarded, as ESP-AT firmware does. ``recorder`` (a :class:`fakemodem.recorder.Recorder`), when
    set, is told of every command line, payload and write.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, line=None, faults=None, recorder=None):
        self._loop = loop
        self.line = line  # where output goes: write(bytes) and backlog
        self.faults = faults  # fakemodem.faults.Faults: split writes
        self.recorder = recorder
        self._inbox = bytearray()
        self._arrived: Optional[asyncio.Future] = None
        self.listening = False  # input before boot completes is dropped, as on a module
        self.terminator = b"\r"
        self.busy_reply: Optional[bytes] = None
        self.executing = False
        self.data_mode = None  # a fakemodem.datamode.DataMode while the line carries raw data
        self.frames = None  # a multiplexer (fakemodem/cmux.py) while the line carries its frames
        self._want_payload = 0  # payload bytes read_exact still waits for
        self._awaiting_command = False
        self._staged = deque()
        self._stage_timer = None
        self.received_commands = deque(maxlen=100_000)  # the most recent command lines, for tests
        self.writes = 0  # how many writes the module made (tells whether a command answered yet)

    # --- input --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes that reached the module's UART."""
        if not data:
            return
        if not self.listening:
            if self.recorder is not None:
                self.recorder.dropped(data)
            return
        if self.frames is not None:
            self.frames.feed(data)  # it records what it reads
            return
        if self.data_mode is not None:
            if self.recorder is not None:
                self.recorder.payload_in(data)
            self.data_mode.feed(data)
            return
        self._inbox += data
        if self.executing and self.busy_reply and not self._want_payload:
            self._refuse_lines()
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    @property
    def payload_missing(self) -> int:
        """How many more payload bytes a send is waiting for (0 when none is)."""
        return max(0, self._want_payload - len(self._inbox)) if self._want_payload else 0

    @property
    def idle(self) -> bool:
        """True while the module waits for a command and has no complete line to take."""
        return (self._awaiting_command and not self.executing and self.data_mode is None
                and not self._arrived.done())

    def room(self) -> bool:
        """Whether the firmware takes more bytes now: in data mode only while its link does (the
        module's RTS, where it runs flow control); a command line is always read."""
        return self.data_mode is None or self.data_mode.room()

    def enter_data_mode(self, mode) -> None:
        """From now on the host's bytes go to ``mode`` (bytes already received go first)."""
        self.data_mode = mode
        if self._inbox:
            pending = bytes(self._inbox)
            self._inbox.clear()
            if self.recorder is not None:
                self.recorder.payload_in(pending)
            mode.feed(pending)

    def leave_data_mode(self) -> None:
        if self.data_mode is not None:
            self.data_mode.close()
            self.data_mode = None

    def divert(self, frames) -> None:
        """From now on the bytes go to ``frames`` (a multiplexer), those already received first;
        ``divert(None)``: command lines again."""
        self.frames = frames
        if frames is not None and self._inbox:
            pending = bytes(self._inbox)
            self._inbox.clear()
            frames.feed(pending)


    def _refuse_lines(self) -> None:
        """Input during a running command: every complete line is answered busy and dropped."""
        while True:
            end = self._inbox.find(self.terminator)
            if end < 0:
                if len(self._inbox) > MAX_LINE:
                    self._inbox.clear()
                return
            if self.recorder is not None:
                self.recorder.refused(bytes(self._inbox[:end]))
            del self._inbox[: end + len(self.terminator)]
            self.write(self.busy_reply)

    def _more(self) -> asyncio.Future:
        """A future that completes when more bytes arrive; made at once, so that nothing fed
        before the caller starts waiting on it can be missed."""
        self._arrived = self._loop.create_future()
        return self._arrived

    def discard_input(self) -> None:
        """What the UART held is lost (the module restarts)."""
        self._inbox.clear()

    def wake(self) -> None:
        """Wake a reader waiting for bytes, so that it asks its ``interrupted`` again."""
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    async def read_command(self, echo, interrupted: Callable[[], bool] = lambda: False) -> Optional[str]:
        """The next command line, echoed back (terminator included) when ``echo`` is on (``echo``
        may be a function, asked once the line is complete: a setting another port may change);
        None as soon as ``interrupted()`` says so while no whole line has arrived."""
        while True:
            if interrupted():
                return None
            # LF after CR, a stray Ctrl-Z after a fixed-length payload, NULs: ignored between commands
            while self._inbox and self._inbox[0] in (0x0A, 0x1A, 0x00):
                del self._inbox[0]
            end = self._inbox.find(self.terminator)
            if end < 0:
                if len(self._inbox) > MAX_LINE:
                    self._inbox.clear()
                self._awaiting_command = True
                try:
                    await self._more()
                finally:
                    self._awaiting_command = False
                continue
            raw = bytes(self._inbox[:end])
            del self._inbox[: end + len(self.terminator)]
            if echo() if callable(echo) else echo:
                self.write(raw + self.terminator)
            line = raw.decode("latin-1").strip()
            if line:
                self.received_commands.append(line)
                if self.recorder is not None:
                    self.recorder.command(line)
                return line

    async def read_exact(self, count: int, timeout: float) -> Optional[bytes]:
        """Exactly ``count`` payload bytes, or None if they do not all come within ``timeout``."""
        return await self.read_until(lambda inbox: count if len(inbox) >= count else None, timeout, count)

    async def read_until(self, complete: Callable[[bytearray], Optional[int]], timeout: float,
                         expected: int = 1) -> Optional[bytes]:
        """Payload up to where ``complete(received)`` says it ends (it returns how many bytes to
        take, or None while the payload goes on), or None if it does not end within ``timeout``.
        ``expected`` is the length announced, if any (for :attr:`payload_missing`)."""
        deadline = self._loop.time() + timeout
        self._want_payload = expected
        try:
            while True:
                count = complete(self._inbox)
                if count is not None:
                    break
                left = deadline - self._loop.time()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._more(), left)  # a future, not a coroutine
                except asyncio.TimeoutError:
                    return None
        finally:
            self._want_payload = 0
        data = bytes(self._inbox[:count])
        del self._inbox[:count]
        if self.recorder is not None:
            self.recorder.payload_in(data)
        return data

    def take_received(self, limit: int) -> bytes:
        """The payload bytes already received, up to ``limit`` (what a timed-out upload got)."""
        data = bytes(self._inbox[:limit])
        del self._inbox[:limit]
        if data and self.recorder is not None:
            self.recorder.payload_in(data)
        return data

    # --- output -------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Bytes written by the module but not yet on the line."""
        return self.line.backlog if self.line is not None else 0

    def write(self, data: bytes) -> None:
        """Text the module prints: result codes, information lines, URCs, prompts."""
        if self.recorder is not None:
            self.recorder.output(data)
        self._send(data)

    def write_frame(self, head: bytes, payload: bytes, tail: bytes = b"") -> None:
        """A header, raw data and a trailer in one write (``+IPD``, ``+QIRD``, an echoed
        payload...); the recorder keeps the data apart from the text around it."""
        if self.recorder is not None:
            self.recorder.output(head)
            self.recorder.payload_out(payload)
            self.recorder.output(tail)
        self._send(head + payload + tail)

    def _send(self, data: bytes) -> None:
        if not data:
            return
        self.writes += 1
        if self._staged or (self.faults and len(data) > 1 and self.faults.chance("split")):
            self._staged.extend(self.faults.pieces(data) if len(data) > 1 else [data])
            if self._stage_timer is None:
                self._stage_timer = self._loop.call_later(0.001, self._release_piece)
            return
        self.line.write(data)

    def _release_piece(self) -> None:
        """Split output goes out a piece at a time, a millisecond apart, in order."""
        self._stage_timer = None
        self.line.write(self._staged.popleft())
        if self._staged:
            self._stage_timer = self._loop.call_later(0.001, self._release_piece)

    def note(self, event: str) -> None:
        """An event for the recorder (boot, restart, unplug...)."""
        if self.recorder is not None:
            self.recorder.event(event)

    def close(self) -> None:
        if self._stage_timer is not None:
            self._stage_timer.cancel()
            self._stage_timer = None
