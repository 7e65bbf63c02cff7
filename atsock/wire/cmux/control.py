"""Messages of the control channel (DLCI 0): what one UIH frame there carries (cmux.md §8).

Each message is ``type | length | value``; the type octet's C/R bit says command (1) or response
(0) whoever sends it, and a response repeats its command's type and, normally, its value. Only the
messages a host needs are given names and helpers here; the rest decode as plain
:class:`Message` objects (and a station answers their commands with NSC).
"""
import enum
from dataclasses import dataclass
from typing import List, Optional

from .frames import CR, EA


class Type(enum.IntEnum):
    NSC = 0x04    # non-supported command (response only)
    TEST = 0x08
    PSC = 0x10    # power saving
    RLS = 0x14    # remote line status
    FCOFF = 0x18  # stop everything but DLCI 0
    PN = 0x20     # parameter negotiation
    RPN = 0x24
    FCON = 0x28
    CLD = 0x30    # multiplexer close down
    SNC = 0x34
    MSC = 0x38    # modem status (V.24 signals, flow control of one channel)


@dataclass(frozen=True)
class Message:
    type: int      # the six-bit type (a :class:`Type` when known)
    command: bool  # True: a command; False: the response to one
    value: bytes = b""

    def encode(self) -> bytes:
        value = self.value
        length = len(value)
        octets = [(self.type << 2) | (CR if self.command else 0) | EA]
        while True:  # the length field extends over as many octets as it needs, 7 bits each
            if length < 0x80:
                octets.append((length << 1) | EA)
                break
            octets.append((length & 0x7F) << 1)
            length >>= 7
        return bytes(octets) + value

    def answer(self, value: Optional[bytes] = None) -> "Message":
        """The response to this command: the same type and, unless told otherwise, the same value."""
        return Message(self.type, False, self.value if value is None else value)


def decode(info: bytes) -> List[Message]:
    """Every message of one control frame; ValueError if the frame is not made of whole messages."""
    messages = []
    at = 0
    while at < len(info):
        type_octet = info[at]
        if not type_octet & EA:
            raise ValueError("control message type without EA")
        at += 1
        length, shift = 0, 0
        while True:
            if at >= len(info) or shift > 14:
                raise ValueError("control message length runs past the frame")
            octet = info[at]
            at += 1
            length |= (octet >> 1) << shift
            shift += 7
            if octet & EA:
                break
        if at + length > len(info):
            raise ValueError("control message value runs past the frame")
        kind = type_octet >> 2
        messages.append(Message(Type(kind) if kind in Type._value2member_map_ else kind, bool(type_octet & CR),
                                bytes(info[at:at + length])))
        at += length
    return messages


@dataclass(frozen=True)
class Signals:
    """The V.24 signal octet of an MSC (cmux.md §8.3). A sender that sets ``fc``, or clears
    ``rtr``, asks its peer to stop sending on that channel."""

    fc: bool = False   # flow control: 1 = cannot accept frames
    rtc: bool = True   # ready to communicate (DTR/DSR)
    rtr: bool = True   # ready to receive (RTS/CTS)
    ic: bool = False   # incoming call (RI)
    dv: bool = True    # data valid (DCD)

    @property
    def stops(self) -> bool:
        """Whether the peer must stop sending on the channel (Linux and Zephyr read it so)."""
        return self.fc or not self.rtr

    def octet(self) -> int:
        return EA | self.fc << 1 | self.rtc << 2 | self.rtr << 3 | self.ic << 6 | self.dv << 7

    @classmethod
    def of(cls, octet: int) -> "Signals":
        return cls(bool(octet & 0x02), bool(octet & 0x04), bool(octet & 0x08), bool(octet & 0x40),
                   bool(octet & 0x80))


def msc(dlci: int, signals: Signals, command: bool = True) -> Message:
    return Message(Type.MSC, command, bytes([(dlci << 2) | CR | EA, signals.octet()]))


def parse_msc(value: bytes):
    """(dlci, Signals) of an MSC's value; ValueError if it is too short to be one."""
    if len(value) < 2:
        raise ValueError("MSC without its DLCI and signal octets")
    return value[0] >> 2, Signals.of(value[1])


@dataclass(frozen=True)
class Parameters:
    """A PN message's value (cmux.md §8.4), for the frame type UIH and the first convergence layer."""

    dlci: int
    n1: int
    t1: int = 10      # 10 ms units
    n2: int = 3
    k: int = 2
    priority: int = 0

    def value(self) -> bytes:
        return bytes([self.dlci & 0x3F, 0, self.priority & 0x3F, self.t1 & 0xFF,
                      self.n1 & 0xFF, self.n1 >> 8, self.n2 & 0xFF, self.k & 0x07])

    @classmethod
    def of(cls, value: bytes) -> "Parameters":
        if len(value) != 8:
            raise ValueError("PN value is 8 octets")
        return cls(value[0] & 0x3F, value[4] | value[5] << 8, value[3], value[6], value[7] & 0x07, value[2] & 0x3F)
