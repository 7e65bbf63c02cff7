"""Fetching data the module holds, once per notice, with back-pressure.

Modems announce received data with an edge-triggered notice and then wait for the host to fetch
until the buffer is empty. ``request(conn)`` records that the module holds data; one loop per
connection fetches until the module reports nothing left and starts over if another notice came
meanwhile, so the last fetch always began after the last notice. A peer's FIN becomes end of
stream only after such a complete pass: every byte the peer sent is delivered before ``recv``
returns b"". Above ``HIGH_WATER`` buffered bytes the loop waits for the reader (the module then
holds the data and the peer's TCP window closes) and resumes below ``LOW_WATER``.

Where the dialect's fetch is one command (:meth:`atsock.core.dialect.SocketCommands.fetch_exchange`),
the loop is a chain of callbacks instead of a task: each fetch is queued from the reader callback
that parsed the one before, as the chunks of a send are, with no task switch in between.
"""
import asyncio
import errno
import logging
from typing import Awaitable, Callable, Dict, Optional

from ..errors import CommandTimeout, os_error
from .connection import Connection
from .lifecycle import Op, SocketState

log = logging.getLogger("atsock.drain")

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
BUSY_PAUSE = 0.1  # seconds times the attempt number, before a fetch the module was too busy for goes again
BUSY_RETRIES = 10  # attempts in all


class DrainScheduler:
    def __init__(self, fetch: Callable[[Connection], Awaitable[bool]], finish: Callable[[Connection], None],
                 fail: Callable[[Connection, OSError], None], chain=None):
        self._fetch = fetch    # delivered something? (False: the module has nothing left)
        self._finish = finish  # end of stream reached
        self._fail = fail
        self._chain = chain    # a ChainHooks, for dialects whose fetch is one command
        self._running: Dict[Connection, object] = {}  # the task or chain draining each connection

    def request(self, conn: Connection, peer_finished: bool = False) -> None:
        conn.module_has_data = True
        if peer_finished:
            conn.peer_finished = True
        if conn not in self._running:
            if self._chain is not None and self._chain.exchange(conn) is not None:
                chain = self._running[conn] = _ChainedDrain(self, conn)
                asyncio.get_running_loop().call_soon(chain.start)  # (as a task would: not inside the notice)
            else:
                self._running[conn] = asyncio.ensure_future(self._drain(conn))

    def _failed(self, conn: Connection, exc: BaseException) -> None:
        """A fetch failed: the connection fails with an errno that says why."""
        if isinstance(exc, OSError):
            self._fail(conn, exc)
        elif isinstance(exc, CommandTimeout):
            log.info("fetching data for %r timed out: %s", conn, exc)
            self._fail(conn, os_error(errno.ETIMEDOUT, f"the modem did not hand over received data: {exc}"))
        else:
            if conn.state is not SocketState.CLOSED:  # (closed already: the modem's own close cut it short)
                log.info("fetching data for %r failed: %s", conn, exc)
            self._fail(conn, os_error(errno.EIO, f"fetching received data failed: {exc}"))

    def _ended(self, conn: Connection) -> None:
        if conn.peer_finished and conn.allows(Op.FETCH):
            self._finish(conn)

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
            self._ended(conn)
        except Exception as exc:
            self._failed(conn, exc)
        finally:
            self._running.pop(conn, None)

    @staticmethod
    async def _wait_for_room(conn: Connection) -> None:
        while conn.buffered >= LOW_WATER and conn.allows(Op.FETCH):
            await conn.wait_change()


class ChainHooks:
    """What a chained drain needs from the socket core: ``exchange(conn)`` (the dialect's
    FetchExchange, None once the connection has no id), ``submit`` (Engine.submit),
    ``guard(conn)`` (the core's guard for a fetch) and ``deliver(conn, data, sender)``."""

    def __init__(self, exchange, submit, guard, deliver):
        self.exchange, self.submit, self.guard, self.deliver = exchange, submit, guard, deliver


class _ChainedDrain:
    """:meth:`DrainScheduler._drain` as callbacks: the same passes, the same back-pressure, the same
    verdicts, each fetch queued from the reader callback that parsed the one before."""

    def __init__(self, scheduler: DrainScheduler, conn: Connection):
        self._scheduler, self._conn, self._hooks = scheduler, conn, scheduler._chain
        self._exchange = None
        self._guard = None
        self._slot_id: Optional[int] = None  # the id the exchange and the guard were made for
        self._busy = 0
        self._waiting: Optional[asyncio.Task] = None  # waiting for the reader to make room

    def start(self) -> None:
        self._pass()

    def _pass(self) -> None:
        """Fetch until the module reports nothing left (a notice meanwhile starts another pass)."""
        conn = self._conn
        if not (conn.module_has_data and conn.allows(Op.FETCH)):
            self._end()  # (an open still under way: its end asks again)
            return
        conn.module_has_data = False
        self._next()

    def _next(self) -> None:
        conn = self._conn
        if not conn.allows(Op.FETCH):
            self._end()
            return
        if conn.buffered >= HIGH_WATER:
            self._waiting = asyncio.ensure_future(self._after_room())
            return
        if conn.id is None or conn.id != self._slot_id:  # (the same command and guard for every fetch of an id)
            self._exchange, self._guard = self._hooks.exchange(conn), self._hooks.guard(conn)
            self._slot_id = conn.id
        exchange = self._exchange
        if exchange is None:  # the module closed the connection; what it held was read before
            self._nothing_left()
            return
        try:
            self._hooks.submit(exchange.text, on_done=self._answered, timeout=exchange.timeout,
                               response_prefixes=exchange.response_prefixes, extra_finals=exchange.retry,
                               guard=self._guard)
        except Exception as exc:  # the port is gone
            self._stop(exc)

    async def _after_room(self) -> None:
        try:
            await DrainScheduler._wait_for_room(self._conn)
        except Exception as exc:
            self._stop(exc)
            return
        self._next()

    def _answered(self, response, error: Optional[BaseException]) -> None:
        conn, exchange = self._conn, self._exchange
        try:
            if error is not None:
                raise error
            if response.final.text in exchange.retry and self._busy < BUSY_RETRIES - 1:
                self._busy += 1
                asyncio.get_running_loop().call_later(BUSY_PAUSE * self._busy, self._next)
                return
            self._busy = 0
            if exchange.explain is not None and not response.final.ok:
                self._waiting = asyncio.ensure_future(self._refused(exchange, response))
                return
            got = exchange.parse(response)  # (still busy after every attempt: as the dialect reads that)
        except OSError as exc:
            if conn.id is None and conn.peer_finished:
                got = None  # the close notice (ESP: sent once all was read) came first
            else:
                self._stop(exc)
                return
        except Exception as exc:
            self._stop(exc)
            return
        if got is None:
            self._nothing_left()
            return
        self._hooks.deliver(conn, *got)
        self._next()

    async def _refused(self, exchange, response) -> None:
        try:
            error = await exchange.explain(response)
        except Exception as exc:
            error = exc
        conn = self._conn
        if isinstance(error, OSError) and conn.id is None and conn.peer_finished:
            self._nothing_left()  # as for any fetch: the close notice came first
        else:
            self._stop(error)

    def _nothing_left(self) -> None:
        self._pass()

    def _end(self) -> None:
        try:
            self._scheduler._ended(self._conn)
        finally:
            self._scheduler._running.pop(self._conn, None)

    def _stop(self, exc: BaseException) -> None:
        try:
            self._scheduler._failed(self._conn, exc)
        finally:
            self._scheduler._running.pop(self._conn, None)
