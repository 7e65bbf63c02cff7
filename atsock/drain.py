"""Fetching data the module holds, once per notice, with back-pressure.

Modems announce received data with an edge-triggered notice and then wait for the host to fetch
until the buffer is empty. ``request(conn)`` records that the module holds data; one loop per
connection fetches until the module reports nothing left and starts over if another notice came
meanwhile, so the last fetch always began after the last notice. A peer's FIN becomes end of
stream only after such a complete pass: every byte the peer sent is delivered before ``recv``
returns b"". Above ``HIGH_WATER`` buffered bytes the loop waits for the reader (the module then
holds the data and the peer's TCP window closes) and resumes below ``LOW_WATER``.
"""
import asyncio
import errno
import logging
from typing import Awaitable, Callable, Dict

from .connection import Connection
from .errors import CommandTimeout, os_error
from .lifecycle import Op, SocketState

log = logging.getLogger("atsock.drain")

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class DrainScheduler:
    def __init__(self, fetch: Callable[[Connection], Awaitable[bool]], finish: Callable[[Connection], None],
                 fail: Callable[[Connection, OSError], None]):
        self._fetch = fetch    # delivered something? (False: the module has nothing left)
        self._finish = finish  # end of stream reached
        self._fail = fail
        self._running: Dict[Connection, asyncio.Task] = {}

    def request(self, conn: Connection, peer_finished: bool = False) -> None:
        conn.module_has_data = True
        if peer_finished:
            conn.peer_finished = True
        if conn not in self._running:
            self._running[conn] = asyncio.ensure_future(self._drain(conn))

    async def _drain(self, conn: Connection) -> None:
        try:
            while conn.module_has_data and conn.allows(Op.FETCH):
                conn.module_has_data = False
                while conn.allows(Op.FETCH):
                    if conn.buffered >= HIGH_WATER:
                        await self._wait_for_room(conn)
                        continue
                    if not await self._fetch(conn):
                        break
            if conn.peer_finished and conn.allows(Op.FETCH):
                self._finish(conn)
        except OSError as exc:
            self._fail(conn, exc)
        except CommandTimeout as exc:
            log.info("fetching data for %r timed out: %s", conn, exc)
            self._fail(conn, os_error(errno.ETIMEDOUT, f"the modem did not hand over received data: {exc}"))
        except Exception as exc:
            if conn.state is not SocketState.CLOSED:  # (closed already: the modem's own close cut it short)
                log.info("fetching data for %r failed: %s", conn, exc)
            self._fail(conn, os_error(errno.EIO, f"fetching received data failed: {exc}"))
        finally:
            self._running.pop(conn, None)

    @staticmethod
    async def _wait_for_room(conn: Connection) -> None:
        while conn.buffered >= LOW_WATER and conn.allows(Op.FETCH):
            await conn.wait_change()
