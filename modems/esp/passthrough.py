"""ESP-AT's passthrough ("transparent transmission", esp-at.md §5.3) for :mod:`atsock.core.transparent`.

Passthrough works in single-connection mode only, and AT+CIPMUX can change only while no link is
open. So a data-mode socket opens its own connection, and only when it is the module's only socket
(anything else open: EBUSY, and no other socket opens while it lasts):

=====================  ======================================================================
open                   ``AT+CIPMUX=0``, ``AT+CIPMODE=1``, ``AT+SYSMSG[_CUR]=<bits>|1`` (so that the
                       module says ``+QUITT`` when it leaves: without it data mode is refused),
                       ``AT+CIPSTART="TCP","<ip>",<port>`` -> ``CONNECT`` ``OK``,
                       ``AT+CIPSEND`` -> ``OK`` ``>``: the line is the link's
leave                  ``+++`` alone between two silences of 20 ms -> ``+QUITT``; 1 s later (the
                       documents' wait) what came meanwhile is read (``AT+CIPRECVDATA=<len>``, the
                       single-connection form; pushed as ``+IPD,<len>:`` in active mode), then
                       ``AT+CIPCLOSE``, ``AT+CIPMODE=0``, the old ``AT+SYSMSG``, ``AT+CIPMUX=1``:
                       the connection ends with data mode
peer closes            ``CLOSED``; the module is in command mode, the link gone
module restarts        ``ready`` in the middle of the data
resume                 (after a ``CLOSED`` that was the peer's data) what came is read, then
                       ``AT+CIPSEND`` -> ``>`` again
is it still there?     ``AT+CIPSTATUS``: a ``+CIPSTATUS:`` line while the link is open
=====================  ======================================================================
"""
import errno
import logging

from atsock.wire import atcmd
from atsock.core.dialect import DataModeCommands
from atsock.errors import os_error
from atsock.wire.fields import parse_int
from atsock.wire.rawstream import RawWords

from .codes import FRAME_MAX, T_QUERY
from .links import client_params, open_error

log = logging.getLogger("atsock.esp")

QUIT_NOTICE = b"+QUITT\r\n"
CLOSE_WORD = b"CLOSED\r\n"
NOT_FINAL = frozenset({"OK"})  # AT+CIPSEND answers OK before its prompt


class EspPassthrough(DataModeCommands):
    switches_open = False
    escape_answer = QUIT_NOTICE

    def __init__(self, dialect, guard: float, settle: float):
        self.d = dialect
        self.guard = guard
        self.settle = settle
        self.session = None  # the session while the module is in single-connection mode for it
        self._sysmsg = None  # (command, value to restore) while passthrough has changed it

    def words(self, conn) -> RawWords:
        # the module says CLOSED for a peer's close in single-connection mode too, after the escape
        return RawWords(closes=(CLOSE_WORD,), restarts=(b"\r\nready\r\n",), notices=(CLOSE_WORD,))

    async def open(self, session, ip: str, port: int) -> None:
        if self.d.server is not None or self.d.commands.server_open:
            raise os_error(errno.EBUSY, "data mode needs the module to itself: its server is running")
        one, zero = atcmd.number(1, 0, 1), atcmd.number(0, 0, 1)
        response = await session.command(atcmd.build("AT+CIPMUX", zero), timeout=T_QUERY, check=False)
        if not response.final.ok:
            raise os_error(errno.EBUSY, "the module keeps multi-connection mode (a link is still open)")
        self.session = session
        try:
            await session.command(atcmd.build("AT+CIPMODE", one), timeout=T_QUERY)
            await self._ask_for_quit_notice(session)
            links = self.d.commands
            response = await session.command(atcmd.build("AT+CIPSTART", *client_params(session.conn, ip, port)),
                                             timeout=links.t_open, check=False)
            if not response.final.ok:
                raise open_error(response, "the link")
            await self._passthrough(session)
        except BaseException:
            await self._restore(session, close=True)
            raise

    async def _passthrough(self, session) -> None:
        response = await session.enter_command(atcmd.build("AT+CIPSEND"), raw_after_prompt=True,
                                               not_final=NOT_FINAL, timeout=self.d.commands.t_send)
        if response.final.text != ">":
            raise os_error(errno.EIO, f"the module refused passthrough ({response.final.text})")

    async def _ask_for_quit_notice(self, session) -> None:
        """Bit 0 of AT+SYSMSG makes the module print ``+QUITT`` on leaving passthrough: the end of
        the raw data is then marked in the stream. A module without it would leave silently, and
        its silence could not be told from a pause of the peer's: data mode is refused there."""
        name = self.d.cur_name("AT+SYSMSG")
        prefix = name[2:] + ":"
        response = await session.command(atcmd.query(name), timeout=T_QUERY, response_prefixes=(prefix,), check=False)
        values = response.values(prefix)
        old = parse_int(values[0], 0, 7) if response.final.ok and values else None
        if old is not None:
            response = await session.command(atcmd.build(name, atcmd.number(old | 1, 0, 7)), timeout=T_QUERY,
                                             check=False)
        if old is None or not response.final.ok:
            raise os_error(errno.EOPNOTSUPP, f"this firmware does not announce the end of passthrough ({name}): "
                                             "data mode could not be left safely")
        self._sysmsg = (name, old)

    async def resume(self, session) -> None:
        await self._read_what_came(session)
        await self._passthrough(session)

    async def alive(self, session) -> bool:
        response = await session.command(atcmd.build("AT+CIPSTATUS"), timeout=T_QUERY,
                                         response_prefixes=("+CIPSTATUS:",), check=False)
        return response.first("+CIPSTATUS:") is not None

    async def leave(self, session, peer_closed: bool) -> None:
        if not peer_closed:
            await self._read_what_came(session)
        await self._restore(session, close=not peer_closed)

    async def _read_what_came(self, session) -> None:
        """What the peer sent after the escape waits in the module (passive receive; announced,
        if at all, as ``+IPD,<len>``): read with the single-connection form until it has nothing."""
        while True:
            response = await session.command(atcmd.build("AT+CIPRECVDATA", atcmd.number(self.d.commands.recv_chunk,
                                                                                        1, FRAME_MAX)),
                                             timeout=self.d.commands.t_read, response_prefixes=("+CIPRECVDATA",),
                                             check=False)
            line = response.first("+CIPRECVDATA")
            if not response.final.ok or line is None or not line.data:
                return
            session.deliver(line.data)

    def pushed(self, data: bytes) -> None:
        """Active receive after the escape: ``+IPD,<len>:<data>`` in single-connection form."""
        if self.session is not None:
            self.session.deliver(data)
        else:
            log.warning("%d bytes pushed for a single connection no socket holds", len(data))

    async def _restore(self, session, close: bool) -> None:
        """Back to what the rest of the dialect expects: no link, normal mode, multi-connection."""
        try:
            if close:
                await session.command(atcmd.build("AT+CIPCLOSE"), timeout=self.d.commands.t_close, check=False)
            await session.command(atcmd.build("AT+CIPMODE", atcmd.number(0, 0, 1)), timeout=T_QUERY, check=False)
            if self._sysmsg is not None:
                name, old = self._sysmsg
                self._sysmsg = None
                await session.command(atcmd.build(name, atcmd.number(old, 0, 7)), timeout=T_QUERY, check=False)
            await session.command(atcmd.build("AT+CIPMUX", atcmd.number(1, 0, 1)), timeout=T_QUERY)
        finally:
            self.session = None
