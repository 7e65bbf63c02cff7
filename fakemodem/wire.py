"""What a UART listening at one rate makes of bytes sent at another (8N1, the line idle high).

Each byte goes out as a start bit (low), eight data bits from the least significant, and a stop
bit (high). The receiver waits for a falling edge, checks the middle of its start bit (a pulse
shorter than half its bit is noise), samples the middle of each of its own eight data bits and of
its stop bit, and looks for the next edge from there. A low stop bit is a framing error, which
Linux hands to a reader as a NUL byte (pyserial's termios has neither IGNPAR nor PARMRK), and so
is a break. So a host at the wrong rate reads garbage, never silence and never the module's
words: about one byte per falling edge from a much slower sender (``0x00``, ``0x80``, ``0xF8``...),
about one per eight sent from a much faster one. Rates a few percent apart still agree, as real
UARTs do.
"""

_FRAMES = [bytes([0] + [(byte >> bit) & 1 for bit in range(8)] + [1]) for byte in range(256)]
_FALLING = b"\x01\x00"


def received_as(data: bytes, sent_at: float, read_at: float) -> bytes:
    """The bytes a receiver at ``read_at`` baud reads from ``data`` sent at ``sent_at`` baud in one
    burst from an idle line (the same bytes when the rates are equal)."""
    if not data or sent_at == read_at:
        return bytes(data)
    # the line's levels, one per sender bit; an idle bit first, so that the first edge is seen, and
    # idle after the burst (an index past the end reads as idle)
    line = b"\x01" + b"".join(_FRAMES[byte] for byte in data) + b"\x01" * (int(10 * sent_at / read_at) + 2)
    step = sent_at / read_at  # one receiver bit, in sender bits
    start_middle = 1 + step / 2  # +1: the idle bit before the burst
    data_middles = [(bit, 1 + step * (1.5 + bit)) for bit in range(8)]
    stop_middle = 1 + step * 9.5
    out = bytearray()
    found = line.find(_FALLING)
    while found >= 0:  # an edge at sender time ``found``
        if not line[int(found + start_middle)]:  # a start bit, not a glitch
            value = 0
            for bit, middle in data_middles:
                if line[int(found + middle)]:
                    value |= 1 << bit
            stop = int(found + stop_middle)
            out.append(value if line[stop] else 0)
            found = line.find(_FALLING, max(found + 1, stop))
        else:
            found = line.find(_FALLING, found + 1)
    return bytes(out)
