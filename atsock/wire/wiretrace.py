"""The wire trace: what crossed the serial line, on the ``atsock.at`` logger at DEBUG level.

Every part that writes it (the engine, the command line's AT console) writes the same shape:
``-> text`` for what the host sent, ``<- text`` for what the module said, with a note after it
(``[1500 bytes]``, ``(urc)``). Anything that is not printable ASCII is written as an escape
(``\\r``, ``\\n``, ``\\x1a``), so binary noise or a payload cannot drive the terminal that shows the
trace. The time of each line is the logging formatter's (the command line prints it).
"""
import functools
import logging
from typing import Union

wire = logging.getLogger("atsock.at")

_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


#: ``tracing()``: is the trace on? Asked for every frame, so the logger's own cached answer with no
#: call around it; the trace can be switched on any time
tracing = functools.partial(wire.isEnabledFor, logging.DEBUG)


def visible(text: Union[str, bytes]) -> str:
    """``text`` with every character outside printable ASCII as an escape (bytes read as Latin-1)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    return "".join(ch if " " <= ch <= "~" else _NAMED.get(ch) or
                   (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") for ch in text)


def is_text(data: bytes) -> bool:
    """Mostly printable ASCII with line endings, as every AT answer is (noise: the wrong line rate)."""
    text = sum(1 for byte in data if 0x20 <= byte < 0x7F or byte in (0x09, 0x0A, 0x0D))
    return text >= 0.9 * len(data)


def sent(data: Union[str, bytes], note: str = "") -> None:
    wire.debug("-> %s%s", visible(data), note)


def received(data: Union[str, bytes], note: str = "") -> None:
    wire.debug("<- %s%s", visible(data), note)
