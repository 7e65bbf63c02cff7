"""The emulator's recording of the serial line, read back as the lines a reader of the docs wants.

The recorder (``FakeModem(..., record=path)``, :mod:`fakemodem.recorder`) writes one JSON object per
chunk that crossed the line. :class:`Tape` follows that file while a run goes on and hands out
what arrived since the last look; :func:`wire_lines` turns those records into ``→``/``←`` lines
(payloads shown as ``[n bytes]``), and :class:`Masks` replaces what differs from run to run
(ports the kernel picked, payload sizes that depend on OpenSSL) so the pages come out the same.
"""
import base64
import json
import re
import time
from typing import Callable, Iterable, List, Optional, Set, Tuple

HOST, MODULE, NOTE = "→", "←", "·"
SHOWN_PAYLOAD = 16  # a payload up to this long and printable is shown, not just counted
EVENTS = {"boot": "the module boots", "restart": "the module restarts", "unplug": "the cable comes out",
          "replug": "the cable goes back in", "cmux": "the line carries CMUX frames from here on",
          "cmux end": "the line is plain AT again"}

Line = Tuple[str, str]  # (direction, text)
LOST, IGNORED = "(lost: the module is still booting)", "(ignored: the module reads only frames)"
UNREAD = (LOST, IGNORED)  # what the host sent that the module did not read as a command


class Tape:
    """Follows a recording as it grows; :meth:`settle` waits for the line to go quiet."""

    def __init__(self, path):
        self._file = open(path, encoding="utf-8")
        self._partial = ""
        self._records: List[dict] = []

    def _pull(self) -> bool:
        chunk = self._file.read()
        if not chunk:
            return False
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        self._records.extend(json.loads(line) for line in complete if line)
        return bool(complete)

    def settle(self, quiet: float, until: Optional[Callable[[List[dict]], bool]] = None,
               limit: float = 20.0, complete: bool = True) -> None:
        """Return once every command read since the last :meth:`take` has its final result (unless
        not ``complete``), ``until(records so far)`` holds (if given) and nothing was written for
        ``quiet`` s."""
        deadline = time.monotonic() + limit
        last_change = time.monotonic()
        while True:
            now = time.monotonic()
            if self._pull():
                last_change = now
            elif now - last_change >= quiet and (not complete or answered(self._records)) \
                    and (until is None or until(self._records)):
                return
            if now > deadline:
                raise TimeoutError(f"the wire did not settle within {limit:g} s: {self._records[-3:]!r}")
            time.sleep(0.01)

    def take(self) -> List[dict]:
        """Every record since the last call."""
        self._pull()
        records, self._records = self._records, []
        return records

    def close(self) -> None:
        self._file.close()


def _payload(data: bytes) -> str:
    if len(data) <= SHOWN_PAYLOAD and all(32 <= b < 127 for b in data):
        return f"[{len(data)} bytes: {data.decode('ascii')}]"
    return f"[{len(data)} bytes]"


def wire_lines(records: Iterable[dict]) -> List[Line]:
    """The records as lines: what the module printed split at its line ends, payloads inline. On a
    multiplexed line each channel's lines start with its DLCI in brackets, and the frames that
    open, close or control the multiplexer are shown as what they are (``[0] SABM``)."""
    lines: List[Line] = []
    pending: dict = {}  # per channel (None: the line itself), module output not yet ended by CR or LF

    def flush():
        for channel, text in pending.items():
            if text.strip():
                lines.append((MODULE, _on(channel, text.strip())))
        pending.clear()

    for record in records:
        channel = record.get("dlci")
        if record.get("dir") == "out" and "frame" not in record:
            if "text" in record:
                pieces = re.split(r"[\r\n]+", pending.get(channel, "") + record["text"])
                pending[channel] = pieces.pop()
                lines.extend((MODULE, _on(channel, piece.strip())) for piece in pieces if piece.strip())
            elif "payload" in record:
                pending[channel] = pending.get(channel, "") + _payload(base64.b64decode(record["payload"]))
            elif "raw" in record:
                flush()
                lines.append((MODULE, f"[{record['bytes']} bytes of noise]"))
            continue
        flush()
        if "frame" in record:
            lines.append((HOST if record["dir"] == "in" else MODULE, _on(channel, record["frame"])))
        elif record.get("dir") == "in":
            if "line" in record:
                lines.append((HOST, _on(channel, record["line"])))
            elif "payload" in record:
                lines.append((HOST, _on(channel, _payload(base64.b64decode(record["payload"])))))
            elif "dropped" in record:
                lost = base64.b64decode(record["dropped"]).decode("latin-1").strip()
                lines.append((HOST, f"{lost}   {LOST}"))
            elif "ignored" in record:
                lost = base64.b64decode(record["ignored"]).decode("latin-1").strip()
                lines.append((HOST, f"{lost}   {IGNORED}"))
            elif "refused" in record:
                lines.append((HOST, f"{record['refused'].strip()}   (refused: the module is busy)"))
        elif record.get("event") in EVENTS:
            lines.append((NOTE, EVENTS[record["event"]]))
    flush()
    return lines


def _on(channel, text: str) -> str:
    return text if channel is None else f"[{channel}] {text}"


_CHANNEL = re.compile(r"^\[\d+\] ")


def is_command(direction: str, text: str) -> bool:
    """Whether a line is a command the host sent (on whichever channel) that the module read."""
    return direction == HOST and _CHANNEL.sub("", text)[:2].upper() == "AT" and not text.endswith(UNREAD)


FINAL = re.compile(r"(OK|ERROR|SEND OK|SEND FAIL|FAIL|NO CARRIER|CONNECT|\+CM[ES] ERROR:.*)")


def answered(records: List[dict]) -> bool:
    """Whether every command line among ``records`` has had its final result (the module answers
    every line it reads with one, so a step ends only when its commands have)."""
    lines = wire_lines(records)
    commands = sum(1 for direction, text in lines if is_command(direction, text))
    finals = sum(1 for direction, text in lines if direction == MODULE and FINAL.fullmatch(_CHANNEL.sub("", text)))
    return finals >= commands


def payload_sizes(records: Iterable[dict]) -> Set[int]:
    return {record["bytes"] for record in records if "payload" in record}


_NUMBER = re.compile(r"(?<![\d.])\d+(?![\d.])")
_CHECKSUM = re.compile(r"^(\+QFUPL: [^,]+,)[0-9A-Fa-f]{1,4}$")  # of a certificate made afresh each run


class Masks:
    """What varies between runs, replaced by a placeholder.

    Ports: every port a socket of the run was seen to use, and any number in the ephemeral range
    (the kernel's and atsock's own, 32768-65535), become ``<port>``. Sizes: in a step whose
    payloads vary in length (TLS records, a certificate made for the run), those lengths become
    ``<n>``, and the checksum the module reports for an uploaded certificate ``<checksum>``.
    """

    EPHEMERAL = range(32768, 65536)

    def __init__(self):
        self.ports: Set[int] = set()

    def port(self, number: int) -> int:
        """Note ``number`` as a port chosen at run time; returns it, for use in expressions."""
        self.ports.add(number)
        return number

    def text(self, text: str, sizes: Set[int] = frozenset()) -> str:
        def replace(match):
            number = int(match.group())
            if number in sizes and number > 16:
                return "<n>"
            if number in self.ports or number in self.EPHEMERAL:
                return "<port>"
            return match.group()
        return _NUMBER.sub(replace, _CHECKSUM.sub(r"\1<checksum>", text))
