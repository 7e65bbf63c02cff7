"""One raw AT command on an open modem: ``modem.at("AT+CSQ")`` for what the socket API does not cover
(signal quality, IMEI, ICCID...).

The command waits its turn in the modem's engine like every command a socket sends, so it can
never land in the middle of another exchange or of a payload. What it must not do is change what
the driver relies on: closing a socket (``AT+QICLOSE``), leaving the data context or the Wi-Fi,
switching multiplexing off. Commands that open a data prompt or data mode cannot be completed
from a single line and are refused.
"""
import asyncio
import errno
from dataclasses import dataclass
from typing import Optional, Tuple

from ..errors import CommandTimeout
from . import atcmd
from .channel import Final

EXTRA_FINALS = frozenset({"FAIL"})  # ESP-AT 1.x ends a failed join with FAIL instead of ERROR
#: commands that ask for payload after a prompt, or enter data mode: a line alone cannot finish them
NEEDS_PAYLOAD = frozenset({"+QISEND", "+QSSLSEND", "+CIPSEND", "+CIPSENDEX", "+CIPSENDBUF", "+CMGS", "+CMGW"})


@dataclass(frozen=True)
class ATResult:
    """The answer to one raw command: its information lines and its final result code."""

    command: str
    lines: Tuple[str, ...]
    final: str

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    @property
    def error_code(self) -> Optional[int]:
        """``n`` of ``+CME ERROR: n`` / ``+CMS ERROR: n``, else None."""
        return Final(self.final).error_code


class ATCommandError(OSError):
    """The modem answered a raw command with ``ERROR``, ``+CME ERROR: n`` or the like."""

    def __init__(self, result: ATResult):
        super().__init__(errno.EIO, f"{result.command!r} answered {result.final!r}")
        self.result = result


def command_line(text) -> atcmd.CommandLine:
    """``text`` as a checked command line (:func:`atsock.wire.atcmd.raw`: one printable line that starts
    with AT), unless it needs payload or data mode; TypeError/ValueError otherwise."""
    line = atcmd.raw(text)
    name = command_name(line)
    if name in NEEDS_PAYLOAD or name[:1] in ("D", "O"):
        raise ValueError(f"{line!r} needs payload or data mode, which one command line cannot carry; "
                         "use the socket API for data")
    return line


def command_name(text: str) -> str:
    """``AT+CSQ`` -> ``+CSQ``, ``AT+COPS?`` -> ``+COPS``, ``ATI`` -> ``I``."""
    body = text[2:]
    for separator in "=?":
        cut = body.find(separator)
        if cut >= 0:
            body = body[:cut]
    return body.strip().upper()


def answer_prefixes(text: str) -> Tuple[str, ...]:
    """``+CPIN:`` for ``AT+CPIN?``: lines with the command's own prefix belong to its answer even
    when the dialect also expects them unsolicited."""
    name = command_name(text)
    return (name + ":",) if name.startswith("+") else ()


def checked_timeout(timeout) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise ValueError(f"timeout must be a number of seconds in (0, 3600], not {timeout!r}")
    return float(timeout)


async def execute(engine, text: atcmd.CommandLine, timeout: float) -> ATResult:
    """Run an already checked command on ``engine`` (on its loop); the final is not judged here.
    ``timeout`` counts from the call: a command still queued behind one the module has not answered
    is withdrawn then, unsent."""
    exchange = engine.command(text, timeout=timeout, response_prefixes=answer_prefixes(text),
                              extra_finals=EXTRA_FINALS, check=False)
    try:
        response = await asyncio.wait_for(exchange, timeout)
    except asyncio.TimeoutError:
        raise CommandTimeout(text, timeout) from None
    return ATResult(text, tuple(line.text for line in response.lines), response.final.text)


def run(modem, command: str, *, timeout: float = 5.0, check: bool = True) -> ATResult:
    """What :meth:`atsock.Modem.at` does: check, queue on the engine, wait, judge."""
    text = command_line(command)
    seconds = checked_timeout(timeout)
    result = modem.run(execute(modem.engine, text, seconds))
    if check and not result.ok:
        raise ATCommandError(result)
    return result
