"""Quectel's transparent access mode (quectel-tcpip.md §12) for :mod:`atsock.transparent`.

=====================  ======================================================================
enter                  ``AT+QISWTMD=<id>,2`` -> ``CONNECT``; from then on the line is the socket's
leave                  ``+++`` alone between two silences of 1 s -> ``OK``; the socket is in buffer
                       access mode again (received data announced by ``+QIURC: "recv"`` as before)
peer closes            ``NO CARRIER`` (or, on modules set so, ``+QIURC: "closed",<id>``); the
                       connectID stays the host's until ``AT+QICLOSE``
=====================  ======================================================================
"""
import errno

from atsock import atcmd
from atsock.dialect import DataModeCommands
from atsock.errors import os_error

from .codes import T_QUERY, quectel_error

CONNECT = frozenset({"CONNECT"})


class QuectelTransparent(DataModeCommands):
    switches_open = True
    escape_answer = b"\r\nOK\r\n"

    def __init__(self, conn_id, guard: float):
        self._conn_id = conn_id  # connection -> checked connectID parameter
        self.guard = guard

    def ends(self, conn):
        return b"\r\nNO CARRIER\r\n", b'\r\n+QIURC: "closed",%d\r\n' % conn.id

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
