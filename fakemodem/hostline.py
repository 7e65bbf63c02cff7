"""The host's side of the line, as the host set it up: its rate and whether it runs RTS/CTS.

A pty has no line, but it keeps the termios its user sets, and on Linux that termios is shared:
termios ioctls on the master act on the slave's settings (the pty driver hands them to the other
end), so the emulator reads at any moment what the host's serial library asked for. ``TCGETS2``
gives the rate in baud, rates without a ``B`` constant included (pyserial sets those with
``BOTHER``); where it is missing, ``tcgetattr``'s speed code is translated. A host that opens the
port and sets nothing gets what the last one left, as on a real UART; the emulator first leaves
the module's boot rate there (:func:`preset`), so a raw ``open()`` of the port works as it did.
"""
import array
import fcntl
import termios
from dataclasses import dataclass
from typing import Optional

TCGETS2 = 0x802C542A     # Linux: _IOR('T', 0x2A, struct termios2), as pyserial uses it
TCSETS2 = 0x402C542B     # _IOW('T', 0x2B, struct termios2)
_CBAUD, _BOTHER = 0o010017, 0o010000
_SPEEDS_AT = 9           # struct termios2: four flags, c_line, 19 c_cc, then c_ispeed and c_ospeed (words)
_SPEEDS = {getattr(termios, name): int(name[1:]) for name in dir(termios) if name[:1] == "B" and name[1:].isdigit()}


@dataclass(frozen=True)
class HostLine:
    baudrate: Optional[int]  # None: a speed code this table does not know
    rtscts: bool             # CRTSCTS: the host's UART holds its output while CTS is low, and lowers RTS when full


def preset(fd: int, baudrate: int) -> None:
    """Put ``baudrate`` in the port's termios (a fresh pty has 38400), as a host's library would:
    with its ``B`` constant, or ``BOTHER`` and the number for any other rate."""
    code = getattr(termios, f"B{baudrate}", None)
    if code is not None:
        flags = termios.tcgetattr(fd)
        flags[4] = flags[5] = code
        termios.tcsetattr(fd, termios.TCSANOW, flags)
        return
    words = array.array("I", bytes(44))
    fcntl.ioctl(fd, TCGETS2, words)
    words[2] = (words[2] & ~_CBAUD) | _BOTHER
    words[_SPEEDS_AT] = words[_SPEEDS_AT + 1] = baudrate
    fcntl.ioctl(fd, TCSETS2, words)


def read(fd: int) -> Optional[HostLine]:
    """The host's line settings through ``fd`` (the master), or None where there is no terminal."""
    try:
        flags = termios.tcgetattr(fd)
    except (OSError, termios.error):
        return None
    rtscts = bool(flags[2] & getattr(termios, "CRTSCTS", 0))
    words = array.array("I", bytes(44))
    try:
        fcntl.ioctl(fd, TCGETS2, words)
        baudrate = words[_SPEEDS_AT + 1]  # c_ospeed: the rate the host sends and (without split rates) listens at
    except OSError:
        baudrate = _SPEEDS.get(flags[5])
    return HostLine(baudrate, rtscts)
