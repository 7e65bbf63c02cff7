"""A connection's way into and out of data mode, as the socket core sees it: which sockets may,
the line held by one at a time, a module alone with its data-mode connection, and the stream's end
when data mode ends with the connection. The session itself is :mod:`atsock.core.transparent`'s.

Part of :class:`atsock.core.socketcore.SocketCore`; in a module of its own so that each reads as one job.
"""
import errno
from typing import Optional

from ..errors import os_error
from .connection import Connection, Kind
from .lifecycle import Op, SocketState as S
from .transparent import DataSession


class DataModes:
    """Entering and leaving data mode, and what it refuses meanwhile."""

    # --- data mode ----------------------------------------------------------------------------
    def _data_modes(self, conn: Connection):
        modes = self.commands.data_mode
        if modes is None:
            raise os_error(errno.EOPNOTSUPP, "this modem's dialect has no data mode")
        if conn.kind is not Kind.TCP:
            raise os_error(errno.EOPNOTSUPP, "data mode carries a TCP connection")
        return modes

    async def enter_data_mode(self, conn: Connection) -> None:
        """Switch an open TCP connection to data mode (dialects whose modules can)."""
        modes = self._data_modes(conn)
        if not modes.switches_open:
            raise os_error(errno.EOPNOTSUPP, "this module opens its data-mode connection itself: enter data mode "
                                             "before connect()")
        self.require(conn, Op.SEND)
        self._check_line_unheld(conn)
        lines = self.data_lines
        if lines is None:
            session = conn.data_session = DataSession(self, conn, modes, self.line_rate)
        else:  # a channel of its own (a multiplexer's): the engine goes on serving everyone else
            line, clock = await lines.take()
            session = conn.data_session = DataSession(self, conn, modes, self.line_rate, line, clock)
            session.done.add_done_callback(lambda _: lines.give_back(line))
        await session.start()  # if it fails, the session has let go of the socket

    async def leave_data_mode(self, conn: Connection) -> None:
        if conn.data_session is not None:
            await conn.data_session.finish()

    def _check_line_unheld(self, conn: Optional[Connection] = None) -> None:
        """Data mode takes the line: refused while this socket or another one has it."""
        if conn is not None and conn.data_session is not None:
            raise os_error(errno.EALREADY, "this socket is already in data mode (data_mode() blocks do not nest)")
        if self.engine.held_by is not None:
            raise os_error(errno.EBUSY, "another socket's data mode holds the modem's line")

    def data_mode_closed(self, conn: Connection, released: bool) -> None:
        """A connection's data mode ended with the connection (the peer closed it, or, where data
        mode opened it, the block ended): every byte came through the line or was fetched while
        leaving, so the stream ends here, with no fetch. ``released``: the module's id is free."""
        if released and conn.id is not None and self.slots.owner(conn.id) is conn:
            self.slots.free(conn)
        if conn.kind is Kind.TCP and conn.allows(Op.DELIVER):
            self._finish(conn)

    async def _connect_in_data_mode(self, conn: Connection, ip: str, port: int, timeout: Optional[float],
                                    local_port: int) -> None:
        """A module whose data mode needs it to be alone with one connection (ESP-AT's passthrough
        is single-connection mode): only when no other socket is open, else EBUSY."""
        modes = self._data_modes(conn)
        if local_port:
            raise os_error(errno.EOPNOTSUPP, "a data-mode connection cannot choose its local port")
        others = [c for c in list(self._known) if c is not conn and c.state not in (S.FRESH, S.CLOSED)]
        if others or self.slots.retired() or self.engine.held_by is not None:
            raise os_error(errno.EBUSY, "data mode needs the module to itself: close its other sockets first")
        conn.become(Kind.TCP)
        session = conn.data_session = DataSession(self, conn, modes, self.line_rate)
        await self._open(conn, lambda: session.start((ip, port)), timeout, f"connecting to {ip}:{port} in data mode")
        conn.remote = (ip, port)
        conn.life.connect_done()
        self._settle_early_close(conn)

    def _check_line_free(self) -> None:
        """While a module is alone with its data-mode connection, no other socket can open."""
        for conn in list(self._known):
            session = conn.data_session
            if session is not None and not session.modes.switches_open:
                raise os_error(errno.EBUSY, "the module is in data mode with another socket (single-connection "
                                            "passthrough): no other socket can open until it ends")
