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


#: Where the documentation is published: messages point there, never at the repository's files.
#: A placeholder until the project has a public address, the same as pyproject.toml's
#: [project.urls] Documentation and mkdocs.yml's site_url (tests/test_docs.py holds them together).
DOCS_URL = "https://atsock.github.io/atsock/"


def docs_link(page: str, anchor: str = "") -> str:
    """The address of a page of the published docs (``page`` as named in ``docs/``, without
    ``.md``), at ``anchor`` where given. Give both as literals: a test finds every call and checks
    that the built site has that page and anchor."""
    return f"{DOCS_URL}{page}/" + (f"#{anchor}" if anchor else "")


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
    """Bring-up or lifecycle failure of the modem itself (SIM, registration, data context).

    Besides the message, the parts a front end needs to say it its own way: ``reason`` (what
    happened), ``advice`` (what to do; ``{setting}`` in it stands for the setting named by
    ``setting``, an ``open_modem`` keyword such as ``"pin"``), ``docs`` (the page that explains
    it), and ``final`` (True: bringing the modem up again cannot help, the user has to act).
    :meth:`message` puts them together, with the setting spelt as the caller likes: the library
    writes ``pin=...``, the command line ``--pin``.
    """

    final = False

    def __init__(self, code: int, reason: str, *, advice: str = "", setting: Optional[str] = None,
                 docs: Optional[str] = None):
        self.reason, self.advice, self.setting, self.docs = reason, advice, setting, docs
        super().__init__(code, self.message())

    def message(self, spell=lambda setting: f"{setting}=...") -> str:
        """The message with the setting spelt by ``spell`` (the command line's ``--pin`` for the library's
        ``pin=...``)."""
        text = self.reason
        if self.advice:
            text += "; " + self.advice.format(setting=spell(self.setting) if self.setting else "")
        if self.docs:
            text += f" (see {self.docs})"
        return text


class SimError(ModemError):
    """The SIM keeps the modem from the network. ``state``: "absent", "pin" (a PIN is needed and
    none was given), "wrong-pin", "puk", "blocked" or "not-ready"; ``tries_left``: PIN (or PUK)
    attempts the card still allows, where the module tells."""

    def __init__(self, code: int, reason: str, *, state: str, tries_left: Optional[int] = None, **parts):
        self.state, self.tries_left = state, tries_left
        self.final = state != "not-ready"  # only a card still starting may come right by itself
        super().__init__(code, reason, **parts)


class RegistrationError(ModemError):
    """The network did not take the module. ``state``: the registration in words
    (:mod:`atsock.core.registration`); ``stats``: the ``<stat>`` each query reported last; ``signal``:
    the ``+CSQ`` <rssi> (99: none), where it was read; ``denied``: the network refused the SIM."""

    def __init__(self, code: int, reason: str, *, state: str, stats: dict, signal: Optional[int] = None,
                 denied: bool = False, **parts):
        self.state, self.stats, self.signal, self.denied = state, dict(stats), signal, denied
        self.final = denied
        super().__init__(code, reason, **parts)


class DataContextError(ModemError):
    """The network refused the data context. ``apn``: the APN asked for; ``modem_code``: the
    module's own error code (Quectel 550-574), where it keeps one."""

    final = True

    def __init__(self, code: int, reason: str, *, apn: str, modem_code: Optional[int] = None, **parts):
        self.apn, self.modem_code = apn, modem_code
        super().__init__(code, reason, **parts)


class StartupError(ModemError):
    """The module is on the port but did not start: it printed boot text and no ``ready``, or it
    answers ``ERROR`` to everything. ``boot_text``: the last line it printed, where there was one."""

    def __init__(self, code: int, reason: str, *, boot_text: Optional[str] = None, **parts):
        self.boot_text = boot_text
        super().__init__(code, reason, **parts)
