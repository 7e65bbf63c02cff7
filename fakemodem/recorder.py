"""A trace of everything that crosses the emulated module's serial line, as JSON lines.

``FakeModem(..., record="trace.jsonl")`` or ``python -m fakemodem ... --record trace.jsonl``. Each
line of the file is one JSON object, written and flushed as it happens, so a trace survives a
crash of the emulator (or of whatever drives it) up to the last event. Fields:

``t``        seconds since the recording started (monotonic clock, microsecond resolution)
``dir``      ``"in"`` (host to module) or ``"out"`` (module to host); absent on events
``line``     a command line as the module read it, without its terminator (bytes as Latin-1)
``payload``  raw data bytes, base64 (RFC 4648, standard alphabet); ``bytes`` gives their count.
             In: what a send took after its prompt, or what transparent mode carried. Out: the data
             of a ``+IPD``/``+QIRD``/``+CIPRECVDATA``/direct-push frame, or raw transparent data
``text``     what the module printed: result codes, information lines, URCs, prompts, frame
             headers (printable ASCII, CR, LF and tab; anything else is recorded as ``raw``)
``raw``      out: bytes that are not text (boot noise, injected garbage), base64
``refused``  in: a line answered ``busy`` and dropped while a command ran (Latin-1)
``dropped``  in: bytes that reached the module while it could not listen (booting), base64
``ignored``  in: bytes outside any frame while the line is multiplexed (not read as commands), base64
``event``    ``"start"`` (first record, with ``dialect``, ``options`` and wall-clock
             ``started_at``), ``"boot"``, ``"restart"``, ``"unplug"``, ``"replug"``, ``"stop"``,
             ``"cmux"`` (the UART carries frames from here on), ``"cmux end"`` (plain AT again)
``frame``    while the line is multiplexed (AT+CMUX): a frame that opens, closes or controls the
             multiplexer, described (``"SABM"``, ``"UA"``, ``"CLD"``, ``"MSC FC=1"``...)
``dlci``     on a multiplexed line, the channel of a frame, and of the lines, text and payloads
             that its frames carried (absent: the line itself)

Times are when the module took or wrote the bytes; on a paced line (``baudrate``) they reach the
host later, at the line rate.
"""
import base64
import datetime
import json
import threading
import time

_TEXT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Recorder:
    def __init__(self, path, dialect: str = "", options=None):
        self._file = open(path, "w", encoding="utf-8", buffering=1)  # line buffered: flushed per record
        self._started = time.monotonic()
        self._lock = threading.Lock()  # events come from the loop thread and from FakeModem's caller
        self._record({"event": "start", "dialect": dialect, "options": _plain(options or {}),
                      "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat()})

    def _record(self, fields: dict) -> None:
        entry = {"t": round(time.monotonic() - self._started, 6)}
        entry.update(fields)
        text = json.dumps(entry, ensure_ascii=True)
        with self._lock:
            if not self._file.closed:
                self._file.write(text + "\n")

    # --- host to module -------------------------------------------------------------------------
    def command(self, line: str) -> None:
        self._record({"dir": "in", "line": line})

    def payload_in(self, data: bytes) -> None:
        self._record({"dir": "in", "payload": _b64(data), "bytes": len(data)})

    def refused(self, line: bytes) -> None:
        self._record({"dir": "in", "refused": line.decode("latin-1")})

    def dropped(self, data: bytes) -> None:
        self._record({"dir": "in", "dropped": _b64(data), "bytes": len(data)})

    def ignored(self, data: bytes) -> None:
        self._record({"dir": "in", "ignored": _b64(data), "bytes": len(data)})

    # --- module to host -------------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        if data and _TEXT.issuperset(data):
            self._record({"dir": "out", "text": data.decode("ascii")})
        elif data:
            self._record({"dir": "out", "raw": _b64(data), "bytes": len(data)})

    def payload_out(self, data: bytes) -> None:
        if data:
            self._record({"dir": "out", "payload": _b64(data), "bytes": len(data)})

    def frame(self, direction: str, dlci: int, description: str) -> None:
        self._record({"dir": direction, "frame": description, "dlci": dlci})

    # --- events ---------------------------------------------------------------------------------
    def event(self, name: str) -> None:
        self._record({"event": name})

    def close(self) -> None:
        if not self._file.closed:
            self.event("stop")
            with self._lock:
                self._file.close()

    def channel(self, dlci: int) -> "Recorder":
        """The same recording, with every record marked as one multiplexer channel's."""
        return _ChannelRecorder(self, dlci)


class _ChannelRecorder(Recorder):
    """A view of a :class:`Recorder` for one channel: its own file and clock are the recording's."""

    def __init__(self, recorder: Recorder, dlci: int):  # the base's file and clock are not opened again
        self._recording = recorder
        self._dlci = dlci

    def _record(self, fields: dict) -> None:
        self._recording._record(dict(fields, dlci=self._dlci))

    def close(self) -> None:
        """The recording is closed by its owner, not by a channel."""


def _plain(options: dict) -> dict:
    """Options as JSON can hold them (bytes as Latin-1 text, anything else odd as its repr)."""
    out = {}
    for key, value in options.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        elif isinstance(value, (set, frozenset, tuple)):
            value = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        out[key] = value
    return out
