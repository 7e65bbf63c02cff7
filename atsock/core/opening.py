"""Opening a connection: the module's id taken, the open command, and an open that failed, timed
out or was abandoned by its caller, settled so that the id is free only once the module confirms.

Part of :class:`atsock.core.socketcore.SocketCore` (its ``slots``, ``engine``, ``commands`` and
``fail``); in a module of its own so that each reads as one job.
"""
import asyncio
import errno
import logging
from typing import Optional

from ..errors import CommandFailed, CommandTimeout, ModemGone, os_error, timeout_error
from .connection import Connection, Kind
from .dialect import Address
from .lifecycle import SocketState as S
from .slots import Retired
from .transparent import DataSession

log = logging.getLogger("atsock.core")  # (the socket core's log channel, as before the split)


class Opening:
    """Connect, listen, bind: the open of each kind, and every way an open can end."""

    # --- opening ------------------------------------------------------------------------------
    async def connect(self, conn: Connection, ip: str, port: int, timeout: Optional[float], local_port: int) -> None:
        if conn.tls is not None:  # the module's own TLS: refused before an id is taken if it cannot do it
            self.commands.check_tls(conn.tls)
        if conn.data_mode_wanted:
            modes = self._data_modes(conn)
            self._check_line_unheld()
            if not modes.switches_open:
                await self._connect_in_data_mode(conn, ip, port, timeout, local_port)
                return
        self._check_line_free()
        conn.become(Kind.TCP)
        await self._open(conn, lambda: self.commands.open_client(conn, ip, port, local_port), timeout,
                         f"connecting to {ip}:{port}")
        conn.remote = (ip, port)
        conn.local_port = local_port
        conn.life.connect_done()
        self._settle_early_close(conn)
        if conn.data_mode_wanted:
            await self.enter_data_mode(conn)

    async def listen(self, conn: Connection, port: int, backlog: int, timeout: Optional[float] = None) -> None:
        self._check_line_free()
        conn.become(Kind.LISTENER, backlog)
        await self._open(conn, lambda: self.commands.open_listener(conn, port, backlog), timeout,
                         f"listening on {port}")
        conn.local_port = port
        conn.life.listen_done()

    async def bind_udp(self, conn: Connection, port: int, peer: Optional[Address],
                       timeout: Optional[float] = None) -> None:
        self._check_line_free()
        conn.become(Kind.UDP)
        await self._open(conn, lambda: self.commands.open_udp(conn, port, peer), timeout, f"UDP on port {port}")
        conn.local_port = port
        conn.life.bind_done()
        self._settle_early_close(conn)

    async def _open(self, conn: Connection, opener, timeout: Optional[float], what: str) -> None:
        takes_id = conn.kind is not Kind.LISTENER or self.commands.listener_takes_id
        if takes_id:
            await self._reserve(conn)
        conn.closed_early = False
        conn.life.start_open()
        self._known.add(conn)
        task = asyncio.ensure_future(opener())
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            self._abandon(conn, task, takes_id)
            raise timeout_error(f"{what} timed out") from None
        except asyncio.CancelledError:
            self._abandon(conn, task, takes_id)
            raise
        except BaseException:
            retired = self.slots.retire(conn)
            self._back_to_fresh(conn)
            if retired is not None:
                await self._release_failed_open(retired)
            raise
        if conn.state is not S.OPENING:  # the module was lost while the open was under way
            raise conn.error or os_error(errno.ECONNRESET, f"{what}: the connection was lost")

    def _back_to_fresh(self, conn: Connection) -> None:
        """A failed or abandoned open leaves the socket fresh, to be tried again (unless the module
        was lost meanwhile: then it stays failed)."""
        if conn.life.can("open_failed"):
            conn.life.open_failed()
            self._known.discard(conn)

    def _abandon(self, conn: Connection, task: asyncio.Future, takes_id: bool) -> None:
        """The caller stopped waiting for an open: the socket is fresh again at once, and the id
        is released in the background once the module has answered the open."""
        session = conn.data_session
        retired = self.slots.retire(conn)
        self._back_to_fresh(conn)
        if self.commands.abortable_open:
            task.cancel()
        settle = asyncio.ensure_future(self._settle_abandoned(task, retired, takes_id, session))
        self._settling.add(settle)
        settle.add_done_callback(self._settling.discard)

    async def _settle_abandoned(self, task: asyncio.Future, retired: Optional[Retired], takes_id: bool,
                                session: Optional[DataSession] = None) -> None:
        try:
            await task
            opened = True
        except BaseException:
            opened = False
        if session is not None:  # an open into data mode: back to command mode before the close
            await session.finish()
        if retired is not None:
            if opened:
                await self._close_retired(retired)
            else:
                await self._release_failed_open(retired)
        elif not takes_id and opened:
            await self._quietly(self.commands.close_listener(), "stopping an abandoned server")

    async def _reserve(self, conn: Connection) -> None:
        try:
            self.slots.reserve(conn)
            return
        except OSError:
            if not self.slots.retired():
                raise
        for retired in self.slots.retired():  # ids whose release failed earlier: try once more
            if not retired.settling:
                await self._release_failed_open(retired)
        self.slots.reserve(conn)

    async def _release_failed_open(self, retired: Retired) -> None:
        await self._settle(retired, self.commands.release_failed_open(retired.id), "releasing a failed open")

    async def _close_retired(self, retired: Retired) -> None:
        await self._settle(retired, self.commands.close(retired.id, retired.kind), "closing")

    async def _settle(self, retired: Retired, exchange, what: str) -> None:
        """Run the exchange that makes the module let go of a retired id, then free the id."""
        if self.engine.gone is not None:
            exchange.close()
            self.slots.free(retired)
            return
        retired.settling = True
        try:
            await exchange
        except (CommandTimeout, CommandFailed, ModemGone, OSError) as exc:
            if self.engine.gone is not None:
                self.slots.free(retired)
            else:
                log.warning("%s id %d: %s (the id stays reserved until the module confirms)", what, retired.id, exc)
            return
        finally:
            retired.settling = False
        self.slots.free(retired)

    async def _quietly(self, exchange, what: str) -> None:
        try:
            await exchange
        except (CommandTimeout, CommandFailed, ModemGone, OSError) as exc:
            log.warning("%s: %s", what, exc)

    def _settle_early_close(self, conn: Connection) -> None:
        """Notices that came while the open was under way take effect now that it is open."""
        if conn.module_has_data:
            self.drains.request(conn)
        if conn.closed_early:
            conn.closed_early = False
            self.module_closed(conn.id, released=conn.closed_early_released)
