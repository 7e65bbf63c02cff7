"""The emulated module's own TS 27.010 frame codec (basic option), from cmux.md §4-§5.

This duplicates what ``atsock/wire/cmux/frames.py`` does, on purpose: the emulator is an independent
oracle and imports nothing from the driver, so a misreading of the frame rules in one of the two
shows up as a disagreement on the wire instead of being shared. It is written the way a module's
firmware would be: a receiver that takes one octet at a time through a small state machine (with
the information field copied in one piece), and a checksum computed bit by bit.
"""
from dataclasses import dataclass
from typing import List, Optional

FLAG = 0xF9
SABM, UA, DM, DISC, UIH, UI = 0x2F, 0x63, 0x0F, 0x43, 0xEF, 0x03
KNOWN = {SABM: "SABM", UA: "UA", DM: "DM", DISC: "DISC", UIH: "UIH", UI: "UI"}
POLL = 0x10


def checksum(octets) -> int:
    """The FCS octet: reflected CRC-8 over x^8+x^2+x+1 from 0xFF, sent complemented (cmux.md §5)."""
    register = 0xFF
    for octet in octets:
        register ^= octet
        for _ in range(8):
            register = (register >> 1) ^ 0xE0 if register & 1 else register >> 1
    return 0xFF - register


@dataclass
class Received:
    dlci: int
    control: int       # without the P/F bit
    poll: bool
    command_bit: bool  # the address's C/R bit as the host set it
    data: bytes


def build(dlci: int, control: int, data: bytes = b"", *, command_bit: bool, poll: bool = False,
          long_length: bool = False) -> bytes:
    """One frame, flags included. ``long_length`` writes the two-octet length even for short data."""
    address = dlci << 2 | (0x02 if command_bit else 0) | 0x01
    if len(data) > 127 or long_length:
        length = bytes([(len(data) & 0x7F) << 1, len(data) >> 7])
    else:
        length = bytes([len(data) << 1 | 1])
    head = bytes([address, control | (POLL if poll else 0)]) + length
    covered = head if control == UIH else head + data
    return bytes([FLAG]) + head + data + bytes([checksum(covered), FLAG])


class Parser:
    """Octets in, frames out. Anything that does not check (address, control, length, FCS, closing
    flag) is thrown away and counted, and the parser waits for the next flag. Without ``check`` the
    FCS is not looked at (a receiver that trusts the line)."""

    def __init__(self, max_length: int, check: bool = True):
        self.max_length = max_length
        self.check = check
        self.state = "hunt"
        self.dropped = 0       # frames thrown away
        self.bad_checksum = 0
        self.noise = bytearray()  # octets outside any frame since the owner last looked
        self._head = bytearray()
        self._data = bytearray()
        self._want = 0
        self._fcs = 0

    def feed(self, octets: bytes) -> List[Received]:
        out: List[Received] = []
        at, end = 0, len(octets)
        while at < end:
            if self.state == "data":  # the information field in one piece
                piece = octets[at:at + self._want - len(self._data)]
                self._data += piece
                at += len(piece)
                if len(self._data) == self._want:
                    self.state = "fcs"
                continue
            frame = self._step(octets[at])
            at += 1
            if frame is not None:
                out.append(frame)
        return out

    def _step(self, octet: int) -> Optional[Received]:
        state = self.state
        if state == "hunt":
            if octet == FLAG:
                self.state = "address"
            else:
                self.noise.append(octet)
        elif state == "address":
            if octet == FLAG:
                return None  # more flags: still between frames
            self._head = bytearray([octet])
            self.state = "control" if octet & 1 else self._drop()
        elif state == "control":
            self._head.append(octet)
            self.state = "length" if octet & ~POLL in KNOWN else self._drop()
        elif state in ("length", "length2"):
            self._head.append(octet)
            if state == "length" and not octet & 1:
                self.state = "length2"
                return None
            lengths = self._head[2:]
            self._want = lengths[0] >> 1 | (lengths[1] << 7 if len(lengths) == 2 else 0)
            self._data = bytearray()
            if self._want > self.max_length:
                self.state = self._drop()
            else:
                self.state = "data" if self._want else "fcs"
        elif state == "fcs":
            self._fcs = octet
            self.state = "close"
        elif state == "close":
            return self._complete(octet)
        return None

    def _complete(self, octet: int) -> Optional[Received]:
        if octet != FLAG:
            self.state = self._drop()
            return None
        self.state = "address"  # the closing flag opens the next frame
        address, control = self._head[0], self._head[1]
        covered = bytes(self._head) if control & ~POLL == UIH else bytes(self._head) + bytes(self._data)
        if self.check and checksum(covered) != self._fcs:
            self.dropped += 1
            self.bad_checksum += 1
            return None
        return Received(address >> 2, control & ~POLL, bool(control & POLL), bool(address & 0x02), bytes(self._data))

    def _drop(self) -> str:
        """A frame that went wrong in its header: its octets were not a frame."""
        self.dropped += 1
        if self.state in ("address", "control", "length", "length2"):
            self.noise += self._head
        return "hunt"


def control_message(kind: int, command: bool, value: bytes = b"") -> bytes:
    """One message of the control channel: type, length, value (cmux.md §8)."""
    return bytes([kind << 2 | (0x02 if command else 0) | 0x01, len(value) << 1 | 1]) + value


def control_messages(data: bytes):
    """(kind, command, value) for each message of a control frame; stops at the first that does not fit."""
    out, at = [], 0
    while at + 2 <= len(data):
        kind_octet, length_octet = data[at], data[at + 1]
        if not kind_octet & 1 or not length_octet & 1:
            break
        length = length_octet >> 1
        value = data[at + 2:at + 2 + length]
        if len(value) < length:
            break
        out.append((kind_octet >> 2, bool(kind_octet & 0x02), value))
        at += 2 + length
    return out
