"""Quectel's transparent access mode (quectel-tcpip.md §12) for :mod:`atsock.core.transparent`.

=====================  ======================================================================
enter                  ``AT+QISWTMD=<id>,2`` -> ``CONNECT``; from then on the line is the socket's
leave                  ``+++`` alone between two silences of 1 s -> ``OK``; the socket is in buffer
                       access mode again (received data announced by ``+QIURC: "recv"`` as before)
peer closes            ``NO CARRIER`` (or, on modules set so, ``+QIURC: "closed",<id>``); the
                       connectID stays the host's until ``AT+QICLOSE``
module restarts        ``RDY`` (its first boot notice) in the middle of the data
is it still there?     ``AT+QISTATE=1,<id>``: a line for the id in state 2 (or 3) while connected
=====================  ======================================================================
"""
import errno

from atsock.wire import atcmd
from atsock.core.dialect import DataModeCommands
from atsock.errors import os_error
from atsock.wire.fields import parse_int, split_fields
from atsock.wire.rawstream import RawWords

from .codes import T_QUERY, quectel_error

CONNECT = frozenset({"CONNECT"})
CONNECTED_STATES = (2, 3)  # <socket_state> of a connected client: 2 in the documents, 3 in a BG96 log


class QuectelTransparent(DataModeCommands):
    switches_open = True
    escape_answer = b"\r\nOK\r\n"

    def __init__(self, conn_id, guard: float):
        self._conn_id = conn_id  # connection -> checked connectID parameter
        self.guard = guard

    def words(self, conn) -> RawWords:
        closed = b'\r\n+QIURC: "closed",%d\r\n' % conn.id  # also the buffer mode's notice, after an escape
        return RawWords(closes=(b"\r\nNO CARRIER\r\n", closed), restarts=(b"\r\nRDY\r\n",), notices=(closed,))

    async def enter(self, session) -> None:
        response = await session.enter_command(
            atcmd.build("AT+QISWTMD", self._conn_id(session.conn), atcmd.number(2, 0, 2)),
            timeout=T_QUERY, extra_finals=CONNECT, raw_after=CONNECT)
        final = response.final
        if final.text == "CONNECT":
            return
        if final.error_code is not None:
            raise quectel_error(final.error_code)
        raise os_error(errno.EIO, f"the modem refused transparent mode ({final.text})")

    async def alive(self, session) -> bool:
        response = await session.command(atcmd.build("AT+QISTATE", atcmd.number(1, 1, 1), self._conn_id(session.conn)),
                                         timeout=T_QUERY, response_prefixes=("+QISTATE:",), check=False)
        for value in response.values("+QISTATE:"):
            fields = split_fields(value)
            if len(fields) > 5 and parse_int(fields[0], 0, 11) == session.conn.id:
                return parse_int(fields[5], 0, 4) in CONNECTED_STATES
        return False
