"""TS 27.010 basic-option frames: their bytes, their check sequence, and a reader that finds them in
a stream that may carry noise (cmux.md §4, §5, §11).

::

    F9 | address | control | length (1 or 2 octets) | information (0..N1) | FCS | F9

Sans-I/O like :mod:`atsock.wire.framing`: :meth:`FrameReader.feed` takes whatever bytes arrived and
returns the frames they complete; it gives the same frames whether the stream comes whole, byte by
byte or cut anywhere. There is no byte stuffing in the basic option: the length field alone says
where a frame ends, so a reader that lost its place hunts for the next flag and checks everything
it can (address EA bit, known control, length within N1, FCS, closing flag) before it believes a
frame. A frame that fails any check is dropped and counted in :class:`ReaderStats`, never raised,
and the hunt resumes at the byte after its opening flag (the length may be what was corrupted, so
the frame's extent is not trusted); the layer above (an AT channel) recovers as it would from a
noisy UART.
"""
import enum
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

FLAG = 0xF9
EA = 0x01   # extension bit: this octet is the last of its field
CR = 0x02   # command/response bit of the address
PF = 0x10   # poll/final bit of the control octet
DEFAULT_N1 = 127  # what every Quectel driver asks for in AT+CMUX (cmux.md §2.3)
MAX_LENGTH = 0x7FFF  # the most a two-octet length field can say


class Kind(enum.IntEnum):
    """The control octet without its P/F bit."""

    SABM = 0x2F  # open a channel
    UA = 0x63    # yes (to SABM or DISC)
    DM = 0x0F    # no: the channel is closed
    DISC = 0x43  # close a channel
    UIH = 0xEF   # information; the FCS covers the header only
    UI = 0x03    # information; the FCS covers the data too


_KINDS = {kind.value: kind for kind in Kind}


def _fcs_table() -> bytes:
    """CRC-8 with polynomial x^8+x^2+x+1 processed least significant bit first (0xE0), one entry
    per octet value: ``crc = table[crc ^ octet]``."""
    table = []
    for value in range(256):
        crc = value
        for _ in range(8):
            crc = (crc >> 1) ^ 0xE0 if crc & 1 else crc >> 1
        table.append(crc)
    return bytes(table)


FCS_TABLE = _fcs_table()
GOOD_FCS = 0xCF  # the CRC over covered octets *and* a correct FCS always ends here


def _crc(data, crc: int = 0xFF) -> int:
    table = FCS_TABLE
    for octet in data:
        crc = table[crc ^ octet]
    return crc


def fcs(covered) -> int:
    """The FCS octet sent after ``covered`` (the register starts at 0xFF, the result is complemented)."""
    return 0xFF - _crc(covered)


@dataclass(frozen=True)
class Frame:
    """One frame. ``cr`` is the address's C/R bit as sent (its meaning depends on who sent it:
    cmux.md §4.2); ``pf`` the poll/final bit."""

    dlci: int
    kind: Kind
    info: bytes = b""
    cr: bool = True
    pf: bool = False


def _length_field(length: int) -> bytes:
    if length <= 127:
        return bytes([(length << 1) | EA])
    if length > MAX_LENGTH:
        raise ValueError(f"a frame carries at most {MAX_LENGTH} octets, not {length}")
    return bytes([(length & 0x7F) << 1, length >> 7])


def header(dlci: int, kind: Kind, length: int, cr: bool = True, pf: bool = False) -> bytes:
    """Address, control and length octets (what the FCS of a UIH frame covers)."""
    if not 0 <= dlci <= 63:
        raise ValueError(f"DLCI is 0..63, not {dlci}")
    return bytes([(dlci << 2) | (CR if cr else 0) | EA, kind | (PF if pf else 0)]) + _length_field(length)


def encode(frame: Frame) -> bytes:
    """The frame's bytes, both flags included."""
    head = header(frame.dlci, frame.kind, len(frame.info), frame.cr, frame.pf)
    covered = head if frame.kind is Kind.UIH else head + frame.info
    return b"\xf9" + head + frame.info + bytes([fcs(covered), FLAG])


class DataFramer:
    """UIH frames for one channel's data, cut at N1, with each size's header computed once (the FCS
    of a UIH frame covers only its header, so one channel's frames of one size share it). Frames
    written together share their flags: one closes a frame and opens the next (cmux.md §4.1), so
    a full frame costs 4 octets besides its data, 5 alone."""

    def __init__(self, dlci: int, n1: int, cr: bool = True):
        self.dlci = dlci
        self.n1 = n1
        self.cr = cr
        self._heads: Dict[int, Tuple[bytes, bytes]] = {}

    def _parts(self, length: int) -> Tuple[bytes, bytes]:
        parts = self._heads.get(length)
        if parts is None:
            head = header(self.dlci, Kind.UIH, length, self.cr)
            parts = self._heads[length] = (head, bytes([fcs(head), FLAG]))
        return parts

    def frames(self, data) -> bytes:
        view = memoryview(data).cast("B")
        n1 = self.n1
        pieces = [b"\xf9"]
        for start in range(0, len(view), n1):
            piece = view[start:start + n1]
            head, tail = self._parts(len(piece))
            pieces += (head, piece, tail)
        return b"".join(pieces)


@dataclass
class ReaderStats:
    """What the reader saw besides good frames; every count is of whole frames except the bytes."""

    frames: int = 0
    bad_fcs: int = 0        # a well-formed frame whose FCS did not check: dropped
    bad_header: int = 0     # a flag followed by an address without EA or an unknown control octet
    too_long: int = 0       # a length above N1: dropped (n_gsm's bad_size)
    unterminated: int = 0   # no closing flag where the length said
    noise_bytes: int = 0    # bytes outside any frame (boot text of a module that left CMUX, line noise)
    fill_flags: int = 0     # extra flags between frames (idle fill: allowed, not an error)
    recent_noise: bytearray = field(default_factory=bytearray)  # the last NOISE_KEPT noise bytes, for a look

    @property
    def dropped(self) -> int:
        """Frames (or things that began like one) thrown away."""
        return self.bad_fcs + self.bad_header + self.too_long + self.unterminated


NOISE_KEPT = 256


class FrameReader:
    """Frames out of a byte stream. ``n1`` is the largest information field accepted: longer frames
    are dropped, as the receiver of a negotiated N1 must (cmux.md §4.4)."""

    def __init__(self, n1: int = DEFAULT_N1):
        if not 1 <= n1 <= MAX_LENGTH:
            raise ValueError(f"N1 is 1..{MAX_LENGTH}, not {n1}")
        self.n1 = n1
        self.stats = ReaderStats()
        self._buffer = bytearray()
        self._need = 0  # bytes the buffer must hold before the frame it begins with can be judged

    @property
    def buffered(self) -> int:
        """Bytes held: at most one unfinished frame, so at most N1 + 6."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a half-read frame (the line was handed back to plain AT)."""
        self._buffer.clear()
        self._need = 0

    def feed(self, data) -> List[Frame]:
        buf = self._buffer
        buf += data
        if len(buf) < self._need:
            return []  # the middle of a frame (most reads of a paced line): nothing to judge yet
        frames: List[Frame] = []
        at, need = self._scan(buf, frames)
        if at:
            del buf[:at]
        self._need = need - at
        return frames

    def _noise(self, buf: bytearray, start: int, end: int) -> None:
        stats = self.stats
        stats.noise_bytes += end - start
        stats.recent_noise += buf[max(start, end - NOISE_KEPT):end]
        if len(stats.recent_noise) > NOISE_KEPT:
            del stats.recent_noise[:-NOISE_KEPT]

    def _scan(self, buf: bytearray, frames: List[Frame]) -> Tuple[int, int]:
        """Frames from ``buf``; returns how many bytes were used up (the rest waits for more) and
        how long the buffer must be before the frame that waits can be judged."""
        stats = self.stats
        at, size = 0, len(buf)
        while True:
            start = buf.find(FLAG, at)
            if start < 0:
                self._noise(buf, at, size)
                return size, 0
            if start > at:
                self._noise(buf, at, start)
            at = start
            if size - start < 4:
                return at, start + 4          # flag, address, control, first length octet
            address = buf[start + 1]
            if address == FLAG:
                stats.fill_flags += 1         # a run of flags: the last one opens the frame
                at = start + 1
                continue
            kind = _KINDS.get(buf[start + 2] & ~PF)
            if not address & EA or kind is None:
                stats.bad_header += 1
                at = start + 1
                continue
            length = buf[start + 3] >> 1
            head_end = start + 4
            if not buf[start + 3] & EA:
                if size - start < 5:
                    return at, start + 5
                length |= buf[start + 4] << 7
                head_end += 1
            if length > self.n1:
                stats.too_long += 1
                at = start + 1
                continue
            check = head_end + length         # the FCS octet; the closing flag follows it
            if size <= check + 1:
                return at, check + 2
            if buf[check + 1] != FLAG:
                stats.unterminated += 1
                at = start + 1
                continue
            crc = _crc(buf[start + 1:head_end])
            if kind is not Kind.UIH:
                crc = _crc(buf[head_end:check], crc)
            if FCS_TABLE[crc ^ buf[check]] != GOOD_FCS:
                stats.bad_fcs += 1
                at = start + 1
                continue
            at = check + 1                    # the closing flag may open the next frame
            stats.frames += 1
            frames.append(Frame(address >> 2, kind, bytes(buf[head_end:check]), bool(address & CR),
                                bool(buf[start + 2] & PF)))
