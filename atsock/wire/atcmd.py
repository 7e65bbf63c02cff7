"""The one place where AT command lines are built from values.

A caller's value that ends up in a command (a host, an APN, a port, a scope id...) could end the
command early: a quote closes the string, a CR ends the line and whatever follows is read as a new
command. So command text is never assembled by hand: :func:`build` joins a command name with
parameters made by :func:`number` (a plain ``int`` after ``operator.index``, range-checked, so no
``int`` subclass can format itself into something else) and :func:`text` (printable ASCII, no
quote, length-bounded). The result is a :class:`CommandLine`, and the engine writes nothing else.
"""
import operator
import re
from typing import Union

_NAME = re.compile(r"^AT(?:[+&%$#^][A-Z][A-Z0-9_]{0,23}|[A-Z&]{0,2}\d?)$")


class CommandLine(str):
    """Command text that went through this module's checks."""

    @property
    def name(self) -> str:
        """``AT+QIRD=0,1500`` -> ``AT+QIRD``: for statistics and logs."""
        for sep in "=?":
            cut = self.find(sep)
            if cut > 0:
                return self[:cut]
        return str(self)


class Param(str):
    """One checked parameter, ready to be written between commas."""


def number(value, low: int, high: int, what: str = "number") -> Param:
    """A plain decimal integer in ``low..high``; anything else is refused."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not bool")
    try:
        plain = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None
    plain = int(plain)  # drop any int subclass and its formatting
    if not low <= plain <= high:
        raise OverflowError(f"{what} must be in {low}..{high}, not {plain}")
    return Param(int.__repr__(plain))


def hexadecimal(value, low: int, high: int, what: str = "number") -> Param:
    """``0X`` and at least four upper-case hex digits (Quectel's cipher-suite numbers), checked
    as :func:`number` checks."""
    return Param(f"0X{int(number(value, low, high, what)):04X}")


def printable(value: str, what: str, max_len: int) -> str:
    """``value`` if it is a str of printable ASCII no longer than ``max_len``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if len(value) > max_len:
        raise ValueError(f"{what} is longer than {max_len} characters")
    for ch in value:
        if not " " <= ch <= "~":
            raise ValueError(f"{what} contains {ch!r}: only printable ASCII can go into an AT command")
    return value


def text(value: str, what: str = "string", max_len: int = 255) -> Param:
    """A double-quoted string parameter, for modules that have no escape for the quote."""
    printable(value, what, max_len)
    if '"' in value:
        raise ValueError(f"{what} contains a double quote, which this modem cannot take")
    return Param('"' + value + '"')


def escaped_text(value: str, what: str = "string", max_len: int = 255) -> Param:
    """A double-quoted string for ESP-AT, which takes ``\\``, ``"`` and ``,`` backslash-escaped."""
    printable(value, what, max_len)
    return Param('"' + "".join("\\" + ch if ch in '\\",' else ch for ch in value) + '"')


def _name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"not an AT command name: {name!r}")
    return name


def build(name: str, *params: Param) -> CommandLine:
    """``NAME=p1,p2,...`` (or just ``NAME`` without parameters)."""
    _name(name)
    for param in params:
        if not isinstance(param, Param):
            raise TypeError(f"AT parameters come from number() or text(), not {type(param).__name__}")
    return CommandLine(f"{name}={','.join(params)}" if params else name)


def query(name: str) -> CommandLine:
    """``NAME?``: read a setting."""
    return CommandLine(_name(name) + "?")


def raw(line: Union[str, bytes]) -> CommandLine:
    """A whole command line typed by a person (``modem.at("AT+CSQ")``): one printable line."""
    if isinstance(line, bytes):
        line = line.decode("ascii", "replace")
    line = printable(line, "AT command", 1024).strip()
    if not line[:2].upper() == "AT":
        raise ValueError(f"an AT command starts with AT: {line!r}")
    return CommandLine(line)
