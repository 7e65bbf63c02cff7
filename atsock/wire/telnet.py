"""Telnet framing for serial ports on the network (RFC 854/855), with the COM Port Control Option
(RFC 2217), without I/O: bytes in, data and events out; data and commands in, bytes out.

A serial server that speaks RFC 2217 (ser2net's ``telnet(rfc2217)`` accepter, labgrid's exporter)
carries the port's bytes in a Telnet stream: the byte 255 (IAC) is doubled, and the stream carries
option negotiations (``IAC DO/DONT/WILL/WONT <option>``) and subnegotiations
(``IAC SB <option> ... IAC SE``), through which the client sets the line (baud rate, data bits,
parity, stop bits) and the server answers with what it applied (the client's code plus 100).

:class:`TelnetDecoder` takes the stream in pieces of any size and gives the port's bytes back with
the commands found in between; a piece without IAC comes back as it is, which is every piece of a
transfer that has no byte 255 in it.
"""
from dataclasses import dataclass
from typing import List, Tuple, Union

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
VERBS = frozenset({DO, DONT, WILL, WONT})

BINARY, ECHO, SGA, COM_PORT = 0, 1, 3, 44  # RFC 856, 857, 858, 2217

# RFC 2217 client-to-server codes; the server's answer to code n is n + SERVER
SET_BAUDRATE, SET_DATASIZE, SET_PARITY, SET_STOPSIZE, SET_CONTROL = 1, 2, 3, 4, 5
FLOW_NONE, FLOW_HARDWARE = 1, 3  # SET-CONTROL values: no flow control, RTS/CTS (both directions)
SERVER = 100
PARITY_NONE, STOPSIZE_ONE = 1, 1

MAX_SUBNEGOTIATION = 256  # longer ones are cut: RFC 2217's longest (a signature) is text of a line

_IAC = bytes([IAC])
_IAC_IAC = bytes([IAC, IAC])
_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)


@dataclass(frozen=True)
class Negotiation:
    """``IAC <verb> <option>``: DO/DONT ask the receiver to use an option or not, WILL/WONT offer it."""

    verb: int
    option: int


@dataclass(frozen=True)
class Subnegotiation:
    """``IAC SB <option> <data> IAC SE`` with IAC IAC in ``data`` undone (and ``data`` bounded)."""

    option: int
    data: bytes


Event = Union[Negotiation, Subnegotiation]


class TelnetDecoder:
    def __init__(self):
        self._state = _DATA
        self._verb = 0
        self._sub = bytearray()

    def feed(self, chunk: bytes) -> Tuple[bytes, List[Event]]:
        """The port's bytes in ``chunk`` and the commands between them, in order of arrival (the
        data is returned whole, so a command's place relative to the data is not kept: none of
        RFC 2217's answers depends on it)."""
        if self._state == _DATA and _IAC not in chunk:
            return chunk, []
        data, events = bytearray(), []
        index, end = 0, len(chunk)
        while index < end:
            state = self._state
            if state == _DATA:
                found = chunk.find(_IAC, index)
                if found < 0:
                    data += chunk[index:]
                    break
                data += chunk[index:found]
                index = found + 1
                self._state = _COMMAND
                continue
            byte = chunk[index]
            index += 1
            if state == _COMMAND:
                self._command(byte, data)
            elif state == _OPTION:
                events.append(Negotiation(self._verb, byte))
                self._state = _DATA
            elif state == _SUB:
                if byte == IAC:
                    self._state = _SUB_IAC
                elif len(self._sub) < MAX_SUBNEGOTIATION:
                    self._sub.append(byte)
            else:  # _SUB_IAC
                if byte == IAC:
                    if len(self._sub) < MAX_SUBNEGOTIATION:
                        self._sub.append(IAC)
                    self._state = _SUB
                else:  # SE ends it; anything else is a broken subnegotiation, ended all the same
                    if self._sub:
                        events.append(Subnegotiation(self._sub[0], bytes(self._sub[1:])))
                    self._state = _DATA
        return bytes(data), events

    def _command(self, byte: int, data: bytearray) -> None:
        if byte == IAC:
            data.append(IAC)  # a doubled IAC is the data byte 255
            self._state = _DATA
        elif byte in VERBS:
            self._verb = byte
            self._state = _OPTION
        elif byte == SB:
            self._sub.clear()
            self._state = _SUB
        else:  # NOP, GA, DM, BRK...: nothing a serial line's reader needs
            self._state = _DATA


def escape(data) -> bytes:
    """The port's bytes as Telnet data: every 255 doubled."""
    data = bytes(data)
    return data.replace(_IAC, _IAC_IAC) if _IAC in data else data


def negotiation(verb: int, option: int) -> bytes:
    return bytes([IAC, verb, option])


def com_port(code: int, value: bytes) -> bytes:
    """An RFC 2217 subnegotiation: ``IAC SB COM-PORT-OPTION <code> <value> IAC SE``."""
    return bytes([IAC, SB, COM_PORT, code]) + escape(value) + bytes([IAC, SE])


def line_settings(baudrate: int) -> List[Tuple[int, bytes]]:
    """The (code, value) pairs that set a line to ``baudrate`` 8N1 (RFC 2217: 4-byte big-endian
    baud rate, data size 8, parity NONE = 1, stop size 1)."""
    return [(SET_BAUDRATE, baudrate.to_bytes(4, "big")), (SET_DATASIZE, bytes([8])),
            (SET_PARITY, bytes([PARITY_NONE])), (SET_STOPSIZE, bytes([STOPSIZE_ONE]))]
