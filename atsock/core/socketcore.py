"""The socket core: the life of every modem connection, once for all dialects.

It owns, from the open command until the module has let go of the id: id allocation and release
(:mod:`atsock.core.slots`), open / opened / failed open, time-outs and abandoned opens, sending in
chunks, the drain of announced data (:mod:`atsock.core.drain`), data the module pushes, remote close,
admission of accepted clients, close, and failing everything when the module is lost. The dialect
only runs single exchanges (:class:`atsock.core.dialect.SocketCommands`) and reports what its URCs say.

Three rules keep one socket's traffic out of the next one's:

* an id is free again only when the module confirmed it (close answered, a closed-and-gone notice
  of *that* connection, a restart); until then it is retired and its notices are dropped;
* every command for a connection carries a guard, checked by the engine just before the command is
  written: a connection that was closed or lost its id meanwhile sends nothing more;
* data is added to a connection only while its machine allows delivery: nothing after an error,
  nothing after close.

A connection in data mode (:mod:`atsock.core.transparent`) sends and receives through its session
instead; closing it leaves data mode first.
"""
import asyncio
import errno
import logging
import weakref
from typing import Callable, Optional, Set, Tuple

from ..errors import CommandFailed, CommandTimeout, os_error
from ..wire.engine import Engine
from .connection import Connection, Kind
from .datamodes import DataModes
from .dialect import SocketCommands
from .drain import ChainHooks, DrainScheduler
from .lifecycle import Op, SocketState
from .opening import Opening
from .sending import ChunkSender
from .slots import Retired, Slots

log = logging.getLogger("atsock.core")

Address = Tuple[str, int]
S = SocketState
FULL_PAUSE = 0.1  # seconds a socket whose module had no room stays unwritable


class SocketCore(DataModes, Opening):
    def __init__(self, engine: Engine, commands: SocketCommands):
        self.engine = engine
        self.commands = commands
        self.slots = Slots(commands.max_links)
        self.drains = DrainScheduler(self._fetch_once, self._finish, self.fail,
                                     ChainHooks(self._fetch_exchange, engine.submit,
                                                lambda conn: self.guard(conn, Op.FETCH), self._deliver))
        self._known: "weakref.WeakSet[Connection]" = weakref.WeakSet()  # opened and not closed yet
        self._settling = set()
        self._closing: Set[asyncio.Future] = set()  # closes whose module command is still on its way
        self.line_rate: Optional[float] = None  # the port's bytes a second, for data mode's guard times
        self.flow_control: Callable[[], bool] = lambda: False  # RTS/CTS on at both ends (data mode's reader holds)
        self.data_lines = None  # where data-mode sessions run when not on the engine (atsock.wire.cmux.channels)
        if commands.data_mode is not None:  # start-up brings back a module left in data mode with these
            engine.escape_timing = (commands.data_mode.guard, commands.data_mode.settle)

    # --- what callers may do ------------------------------------------------------------------
    def refusal(self, conn: Connection, op: Op) -> OSError:
        """The error for ``op`` on a connection whose machine does not allow it now."""
        state = conn.state
        if state is S.CLOSED:
            return os_error(errno.EBADF, "socket is closed")
        if state is S.FAILED and conn.error is not None:
            return conn.error
        if state is S.PEER_CLOSED and op is Op.SEND:
            return os_error(errno.EPIPE, "the peer closed the connection: a half-closed connection cannot be "
                                         "written on through the modem")
        if op is Op.ACCEPT:
            return os_error(errno.EINVAL, "socket is not listening")
        return os_error(errno.ENOTCONN, "socket is not connected")

    def require(self, conn: Connection, op: Op) -> None:
        if not conn.allows(op):
            raise self.refusal(conn, op)

    def guard(self, conn: Connection, op: Op) -> Callable[[], Optional[BaseException]]:
        """For :meth:`Engine.command`: refuses the command if, when its turn comes, ``conn`` no
        longer holds the id it had when the command was queued, or may no longer do ``op``."""
        slot_id = conn.id

        def check():  # (no annotation: one is evaluated at every definition, and a guard is made per command)
            if slot_id is not None and self.slots.holder(slot_id) is not conn:
                return self.refusal(conn, op) if conn.state is S.CLOSED else \
                    os_error(errno.ECONNRESET, "the module no longer holds this connection")
            return None if conn.allows(op) else self.refusal(conn, op)

        return check

    # --- sending ------------------------------------------------------------------------------
    async def send(self, conn: Connection, data: bytes, timeout: Optional[float],
                   dest: Optional[Address] = None) -> int:
        """Send ``data`` in chunks (a datagram whole, to ``dest``); returns how much the module took.

        A send that the module refuses part-way returns the count taken; the error waits on the
        connection for the next call. Closing the socket stops it before its next chunk and the
        sender gets EBADF. The chunks are chained by :class:`atsock.core.sending.ChunkSender`. A non-blocking
        send (``timeout`` 0) offers one chunk: one exchange with the module, as a kernel's non-blocking
        send is one copy into its buffer.
        """
        session = conn.data_session
        if session is not None and dest is None:
            sent = await session.send(data, timeout)
            if sent is not None:
                return sent  # (None: the session gave the socket back to command mode)
        sender = ChunkSender(self, conn, data, dest, timeout)
        sender.start()
        try:
            return await sender.result
        except asyncio.CancelledError:
            sender.stop()
            raise

    def full_for_a_while(self, conn: Connection) -> None:
        """The module had no room and the sender stopped waiting: the socket's descriptor is not
        writable for a pause (nothing announces room; then a send may try again)."""
        if conn.send_full:
            return
        conn.send_full = True
        conn.changed()

        def room_again() -> None:
            conn.send_full = False
            conn.changed()

        asyncio.get_running_loop().call_later(FULL_PAUSE, room_again)

    def send_failed(self, conn: Connection, error: OSError) -> None:
        """A refused send ends the sending direction; what the peer sent is still read to its end.
        A send with no answer leaves the stream's state unknown: then the whole connection fails."""
        if error.args and error.args[0] == errno.ETIMEDOUT:
            self.fail(conn, error)
        else:
            conn.send_error = error

    # --- receiving ----------------------------------------------------------------------------
    async def _fetch_once(self, conn: Connection) -> bool:
        if conn.id is None:
            return False  # the module closed the connection; what it held was read before
        try:
            got = await self.commands.fetch(conn, self.guard(conn, Op.FETCH))
        except OSError:
            if conn.id is None and conn.peer_finished:
                return False  # as above, the close notice (ESP: sent once all was read) came first
            raise
        if got is None:
            return False
        data, sender = got
        self._deliver(conn, data, sender)
        return True

    def _fetch_exchange(self, conn: Connection):
        return None if conn.id is None else self.commands.fetch_exchange(conn)

    def deliver_raw(self, conn: Connection, data: bytes) -> None:
        """Bytes of a connection in data mode, as they came off the line."""
        self._deliver(conn, data, None)

    def _deliver(self, conn: Connection, data: bytes, sender: Optional[Address]) -> None:
        if not conn.allows(Op.DELIVER):
            log.debug("%d bytes for %r dropped: it takes no more data", len(data), conn)
            return
        if conn.kind is Kind.UDP:
            conn.inbox.add(data, sender or conn.remote or ("0.0.0.0", 0))
        elif data:
            conn.inbox.add(data)
        conn.changed()

    def _finish(self, conn: Connection) -> None:
        conn.inbox.eof = True
        if conn.life.can("peer_finished"):
            conn.life.peer_finished()
        conn.changed()

    def take(self, conn: Connection, limit: int, peek: bool = False) -> bytes:
        """Up to ``limit`` buffered bytes; b"" at end of stream; the pending error once empty."""
        self.require(conn, Op.RECEIVE)
        if conn.inbox.data:
            data = conn.inbox.take(limit, peek)
            if not peek:
                conn.changed()  # a paused drain may resume
            return data
        if conn.error is not None:
            raise conn.error
        return b""

    def take_datagram(self, conn: Connection, peek: bool = False) -> Tuple[bytes, Address]:
        self.require(conn, Op.RECEIVE)
        got = conn.inbox.take(peek)
        if got is None:
            raise conn.error or os_error(errno.EAGAIN)
        if not peek:
            conn.changed()
        return got

    def take_incoming(self, listener: Connection) -> Connection:
        self.require(listener, Op.ACCEPT)
        accepted = listener.inbox.take()
        if accepted is None:
            raise listener.error or os_error(errno.EAGAIN)
        listener.changed()
        return accepted

    def unread(self, conn: Connection, data: bytes) -> None:
        if data and conn.kind is Kind.TCP and conn.state is not S.CLOSED:
            conn.inbox.unread(data)
            conn.changed()

    # --- notices from the dialect -------------------------------------------------------------
    def data_waiting(self, slot_id: Optional[int], peer_finished: bool = False) -> None:
        """The module holds data for ``slot_id`` (and, with ``peer_finished``, the peer closed)."""
        conn = self.slots.owner(slot_id)
        if conn is not None:
            self.drains.request(conn, peer_finished)
        else:
            log.debug("data notice for id %s, which no open socket holds", slot_id)

    def data_pushed(self, slot_id: Optional[int], data: bytes, sender: Optional[Address]) -> None:
        """The module pushed data unasked (ESP active receive)."""
        conn = self.slots.owner(slot_id)
        if conn is None:
            log.warning("%d bytes for id %s, which no open socket holds", len(data), slot_id)
            return
        limit = self.commands.push_limit
        if limit is not None and conn.allows(Op.DELIVER) and conn.buffered + len(data) > limit:
            # the module cannot be told to stop: deliver what fits, then fail rather than grow
            if conn.kind is Kind.TCP:
                self._deliver(conn, data[:max(0, limit - conn.buffered)], sender)
            self.fail(conn, os_error(errno.ENOBUFS, f"more than {limit} bytes unread in active receive mode "
                                                    "(passive mode applies back-pressure instead)"))
            return
        self._deliver(conn, data, sender)

    def module_closed(self, slot_id: Optional[int], released: bool = True) -> None:
        """The module reports the connection on ``slot_id`` closed (and, with ``released``, the id
        free on its side: ESP-AT's ``<id>,CLOSED``)."""
        holder = self.slots.holder(slot_id)
        if not isinstance(holder, Connection):
            log.debug("close notice for id %s: %s", slot_id, "retired" if holder else "not held")
            return
        conn = holder
        if conn.state is S.OPENING:  # a quick peer; applied once the open has its verdict
            conn.closed_early, conn.closed_early_released = True, released
            return
        if released:
            self.slots.free(conn)
        if conn.kind is Kind.TCP:
            self.drains.request(conn, peer_finished=True)
        else:
            self.fail(conn, os_error(errno.ENETDOWN, f"the module closed the {conn.kind.value} socket"))

    def connection_failed(self, slot_id: Optional[int], error: OSError) -> None:
        conn = self.slots.owner(slot_id)
        if conn is not None:
            self.fail(conn, error)

    def incoming(self, slot_id: int, listener: Optional[Connection], remote: Optional[Address]) -> None:
        """The module accepted a client on ``slot_id`` for ``listener``."""
        holder = self.slots.holder(slot_id)
        if isinstance(holder, Connection):
            log.warning("the module reports a new client on id %d, which %r holds", slot_id, holder)
            return
        conn = Connection(Kind.TCP)
        self.slots.adopt(slot_id, conn)
        self._known.add(conn)
        conn.remote = remote
        conn.life.accepted()
        if listener is None or listener.state is not S.LISTENING or listener.inbox.full:
            log.warning("turning away a client on id %d (no listener, or its backlog is full)", slot_id)
            self.close_soon(conn)
            return
        asyncio.ensure_future(self._admit(listener, conn))

    async def _admit(self, listener: Connection, conn: Connection) -> None:
        if conn.remote is None and conn.id is not None:
            try:
                conn.remote = await self.commands.peer_address(conn.id)
            except (CommandTimeout, CommandFailed, OSError) as exc:
                log.warning("could not read the address of client id %s: %s", conn.id, exc)
        if listener.state is not S.LISTENING or listener.inbox.full or conn.state is not S.CONNECTED:
            log.warning("turning away %s (listener gone or backlog full)", conn.remote)
            await self.close(conn)
            return
        conn.local_port = listener.local_port
        listener.inbox.add(conn)
        listener.changed()

    # --- failing and closing ------------------------------------------------------------------
    def fail(self, conn: Connection, error: OSError) -> None:
        if conn.state is S.CLOSED:
            return
        if conn.error is None:
            conn.error = error
        if conn.life.can("lose"):
            conn.life.lose()
        conn.changed()

    async def close(self, conn: Connection, wait: Optional[float] = None) -> None:
        """Close the socket at once for its caller; the id is freed when the module confirms, which
        the caller waits for at most ``wait`` seconds (None: until the module answers). The module
        may be unable to answer for a while (another socket's command still unanswered): past
        ``wait`` the confirmation goes on without the caller."""
        if conn.state is S.CLOSED:
            return
        if conn.data_session is not None:
            await conn.data_session.finish()
        serving = conn.kind is Kind.LISTENER and conn.state in (S.LISTENING, S.OPENING)
        pending = conn.inbox.clear() if conn.kind is Kind.LISTENER else []
        retired = self.slots.retire(conn)
        self._release(conn)
        finished = asyncio.get_running_loop().create_future()
        self._closing.add(finished)  # (close_all waits for it)
        confirming = self._confirm_close(retired, serving, pending, finished)
        if wait is None:
            await confirming
            return
        task = asyncio.ensure_future(confirming)
        await asyncio.wait({task}, timeout=wait)
        if task.done():
            task.result()
        else:
            task.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _confirm_close(self, retired: Optional[Retired], serving: bool, pending,
                             finished: asyncio.Future) -> None:
        try:
            if retired is not None:
                await self._close_retired(retired)
            elif serving and not self.commands.listener_takes_id and self.engine.gone is None:
                await self._quietly(self.commands.close_listener(), "stopping the server")
        finally:
            self._closing.discard(finished)
            finished.set_result(None)
            for accepted in pending:  # connections the caller never accepted go with their listener
                await self.close(accepted)

    def _release(self, conn: Connection) -> None:
        conn.life.release()
        if conn.kind is not Kind.LISTENER:
            conn.inbox.clear()
        if conn.error is None:
            conn.error = os_error(errno.EBADF, "socket is closed")
        self._known.discard(conn)
        conn.changed()

    def close_soon(self, conn: Connection) -> None:
        """Close without waiting: a client turned away, a socket dropped without close()."""
        task = asyncio.ensure_future(self.close(conn))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def close_all(self) -> None:
        """Every socket closed at the module, including those whose close another caller began:
        the port may close only once no close command is still on its way."""
        for conn in list(self._known):
            await self.close(conn)
        while self._closing:
            await asyncio.wait(list(self._closing))

    def reset(self, code: int, reason: str) -> None:
        """The module lost every connection (restart, network, port): they fail, every id is free."""
        for conn in list(self._known):
            if conn.data_session is not None:
                conn.data_session.abandon()
            self.fail(conn, os_error(code, reason))
        self.slots.clear()

    def ids_in_use(self):
        return list(self.slots.held_ids())

    def local_ports(self):
        return {conn.local_port for conn in list(self._known)}
