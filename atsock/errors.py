"""Exceptions, internal and public.

Public: everything a socket call raises is an ``OSError`` whose ``args[0]`` is an errno, as in
MicroPython (``e.args[0] == errno.ETIMEDOUT``). CPython's constructor turns
``OSError(ETIMEDOUT, ...)`` into ``TimeoutError`` (``socket.timeout``) and
``OSError(ECONNREFUSED, ...)`` into ``ConnectionRefusedError``, so CPython-style handlers work too.
Name lookups that fail raise ``socket.gaierror``, itself an ``OSError``.

Internal (never escape the public API unconverted):

* :class:`CommandFailed` — the modem answered ``ERROR`` / ``+CME ERROR: n`` / ``SEND FAIL``...
* :class:`CommandTimeout` — no final result within the command's time budget.
* :class:`ModemGone` — the serial port closed or failed under us.
"""
import errno
import os
import socket as _std
from typing import Optional


#: what to check when a port does not answer AT (open_modem and the command line say it)
NO_ANSWER_HINT = ("likely causes: the wrong interface of a multi-port modem (a Quectel module's AT port is "
                  "usually its interface 2, not the DM or NMEA port), the wrong baud rate, or another program "
                  "(ModemManager, a terminal) holding the port, or a Quectel module an earlier session left "
                  "multiplexed (open it with cmux=True, which closes that down); `atsock ports` lists the "
                  "ports, their roles and who holds them")


def os_error(code: int, detail: Optional[str] = None) -> OSError:
    return OSError(code, detail or os.strerror(code))


def timeout_error(detail: str = "timed out") -> OSError:
    return OSError(errno.ETIMEDOUT, detail)


def name_error(host: str) -> OSError:
    return _std.gaierror(_std.EAI_NONAME, f"Name or service not known: {host!r}")


def dns_answer_error(detail: str) -> OSError:
    """The module answered a lookup with something that is no address: a failure of its resolver
    (EAI_FAIL), reported at once rather than waited out."""
    return _std.gaierror(_std.EAI_FAIL, f"the modem's DNS answer is not an address: {detail}")


class CommandFailed(Exception):
    def __init__(self, command: str, final: str, code: Optional[int] = None):
        super().__init__(f"{command!r} answered {final!r}")
        self.command = command
        self.final = final
        self.code = code


class CommandTimeout(Exception):
    def __init__(self, command: str, seconds: float):
        super().__init__(f"{command!r}: no final result within {seconds:g} s")
        self.command = command
        self.seconds = seconds


class ProtocolViolation(OSError):
    """The modem broke the framing (absurd length, truncated frame): EPROTO to whoever waited."""

    def __init__(self, reason: str):
        super().__init__(errno.EPROTO, f"modem protocol error: {reason}")


class ModemGone(Exception):
    """The serial port went away; every waiting call fails with EIO."""


class ModemError(OSError):
    """Bring-up or lifecycle failure of the modem itself (SIM, registration, data context)."""

    def __init__(self, code: int, detail: str):
        super().__init__(code, detail)
