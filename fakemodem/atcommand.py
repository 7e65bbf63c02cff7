"""The emulator's own reading of a command line: ``AT+QIOPEN=1,0,"TCP","x",80`` into its parts.

Written separately from the driver's parser on purpose: the emulator is an independent oracle.
"""
import re
from dataclasses import dataclass
from typing import List, Optional

_INTEGER = re.compile(r"-?[0-9]{1,12}")
_REQUIRED = object()


@dataclass
class ATCommand:
    raw: str
    name: str          # upper-cased, e.g. "+QIOPEN", "E0" keeps its digit: "E0"
    kind: str          # "exec", "read" (?), "test" (=?), "write" (=...)
    args: List[str]    # write arguments with quotes removed
    quoted: List[bool] # whether each argument was quoted

    def arg(self, index: int, default: Optional[str] = None) -> Optional[str]:
        return self.args[index] if index < len(self.args) else default

    def int_arg(self, index: int, default: Optional[int] = None) -> Optional[int]:
        """The argument as a decimal integer (ASCII digits, optional minus, at most 12 digits),
        ``default`` when it is absent or empty. ValueError for anything else, which the command
        loop answers as the firmware answers bad parameters."""
        value = self.arg(index)
        if value is None or value == "":
            return default
        if not _INTEGER.fullmatch(value):
            raise ValueError(f"not a number: {value[:20]!r}")
        return int(value)

    def number(self, index: int, low: int, high: int, default=_REQUIRED) -> int:
        """An integer argument that must lie in ``low..high``; without ``default`` it must be there."""
        value = self.int_arg(index)
        if value is None:
            if default is _REQUIRED:
                raise ValueError(f"argument {index + 1} missing")
            return default
        if not low <= value <= high:
            raise ValueError(f"argument {index + 1} out of range: {value}")
        return value


def split_args(text: str):
    args, quoted, current, in_quotes, was_quoted = [], [], [], False, False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
            was_quoted = True
        elif ch == "," and not in_quotes:
            args.append("".join(current).strip())
            quoted.append(was_quoted)
            current, was_quoted = [], False
        else:
            current.append(ch)
    if in_quotes:
        raise ValueError("unbalanced quote")
    args.append("".join(current).strip())
    quoted.append(was_quoted)
    return args, quoted


def parse(line: str, splitter=split_args) -> Optional[ATCommand]:
    """None if the line is not an AT command at all; ValueError if its arguments do not parse."""
    if len(line) < 2 or line[:2].upper() != "AT":
        return None
    body = line[2:]
    if body.endswith("=?"):
        return ATCommand(line, body[:-2].upper(), "test", [], [])
    if body.endswith("?") and "=" not in body:
        return ATCommand(line, body[:-1].upper(), "read", [], [])
    if "=" in body:
        name, rest = body.split("=", 1)
        args, quoted = splitter(rest)
        return ATCommand(line, name.upper(), "write", args, quoted)
    return ATCommand(line, body.upper(), "exec", [], [])
