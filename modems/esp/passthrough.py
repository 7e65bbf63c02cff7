"""ESP-AT's passthrough ("transparent transmission", esp-at.md §5.3) for :mod:`atsock.transparent`.

Passthrough works in single-connection mode only, and AT+CIPMUX can change only while no link is
open. So a data-mode socket opens its own connection, and only when it is the module's only socket
(anything else open: EBUSY, and no other socket opens while it lasts):

=====================  ======================================================================
open                   ``AT+CIPMUX=0``, ``AT+CIPMODE=1``, ``AT+SYSMSG[_CUR]=<bits>|1`` (so that the
                       module says ``+QUITT`` when it leaves), ``AT+CIPSTART="TCP","<ip>",<port>``
                       -> ``CONNECT`` ``OK``, ``AT+CIPSEND`` -> ``OK`` ``>``: the line is the link's
leave                  ``+++`` alone between two silences of 20 ms -> ``+QUITT``; 1 s later (the
                       documents' wait) ``AT+CIPCLOSE``, ``AT+CIPMODE=0``, the old ``AT+SYSMSG``,
                       ``AT+CIPMUX=1``: the connection ends with data mode
peer closes            ``CLOSED``; the module is in command mode, the link gone
=====================  ======================================================================
"""
import errno

from atsock import atcmd
from atsock.dialect import DataModeCommands
from atsock.errors import os_error
from atsock.fields import parse_int

from .codes import T_QUERY
from .links import client_params, open_error

QUIT_NOTICE = b"+QUITT\r\n"
NOT_FINAL = frozenset({"OK"})  # AT+CIPSEND answers OK before its prompt


class EspPassthrough(DataModeCommands):
    switches_open = False

    def __init__(self, dialect, guard: float, settle: float):
        self.d = dialect
        self.guard = guard
        self.settle = settle
        self._sysmsg = None  # (command, value to restore) while passthrough has changed it

    def ends(self, conn):
        return (b"CLOSED\r\n",)

    async def open(self, session, ip: str, port: int) -> None:
        if self.d.server is not None or self.d.commands.server_open:
            raise os_error(errno.EBUSY, "data mode needs the module to itself: its server is running")
        one, zero = atcmd.number(1, 0, 1), atcmd.number(0, 0, 1)
        response = await session.command(atcmd.build("AT+CIPMUX", zero), timeout=T_QUERY, check=False)
        if not response.final.ok:
            raise os_error(errno.EBUSY, "the module keeps multi-connection mode (a link is still open)")
        try:
            await session.command(atcmd.build("AT+CIPMODE", one), timeout=T_QUERY)
            await self._ask_for_quit_notice(session)
            links = self.d.commands
            response = await session.command(atcmd.build("AT+CIPSTART", *client_params(session.conn, ip, port)),
                                             timeout=links.t_open, check=False)
            if not response.final.ok:
                raise open_error(response, "the link")
            response = await session.enter_command(atcmd.build("AT+CIPSEND"), raw_after_prompt=True,
                                                   not_final=NOT_FINAL, timeout=links.t_send)
            if response.final.text != ">":
                raise os_error(errno.EIO, f"the module refused passthrough ({response.final.text})")
        except BaseException:
            await self._restore(session, close=True)
            raise

    async def _ask_for_quit_notice(self, session) -> None:
        """Bit 0 of AT+SYSMSG makes the module print ``+QUITT`` on leaving passthrough: the end of
        the raw data is then marked in the stream. A module without it leaves silently."""
        name = self.d.cur_name("AT+SYSMSG")
        prefix = name[2:] + ":"
        response = await session.command(atcmd.query(name), timeout=T_QUERY, response_prefixes=(prefix,), check=False)
        values = response.values(prefix)
        old = parse_int(values[0], 0, 7) if response.final.ok and values else None
        if old is None:
            return
        response = await session.command(atcmd.build(name, atcmd.number(old | 1, 0, 7)), timeout=T_QUERY, check=False)
        if response.final.ok:
            self._sysmsg = (name, old)
            session.escape_answer = QUIT_NOTICE

    async def leave(self, session, peer_closed: bool) -> None:
        await self._restore(session, close=not peer_closed)

    async def _restore(self, session, close: bool) -> None:
        """Back to what the rest of the dialect expects: no link, normal mode, multi-connection."""
        if close:
            await session.command(atcmd.build("AT+CIPCLOSE"), timeout=self.d.commands.t_close, check=False)
        await session.command(atcmd.build("AT+CIPMODE", atcmd.number(0, 0, 1)), timeout=T_QUERY, check=False)
        if self._sysmsg is not None:
            name, old = self._sysmsg
            self._sysmsg = None
            await session.command(atcmd.build(name, atcmd.number(old, 0, 7)), timeout=T_QUERY, check=False)
        await session.command(atcmd.build("AT+CIPMUX", atcmd.number(1, 0, 1)), timeout=T_QUERY)
