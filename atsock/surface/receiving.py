"""Waiting for what a connection receives, under MicroPython's blocking rules.

Coroutines run on the engine's loop by the :class:`~atsock.modem.Modem`. ``timeout`` is the
socket's: None blocks, 0 never waits (``EAGAIN``), a number raises ``ETIMEDOUT`` when it runs out.
A read that times out part-way leaves every byte it had gathered in the socket for the next call.
"""
import asyncio
import errno
import logging
from typing import Optional, Tuple

from ..core.connection import Connection
from ..core.lifecycle import Op
from ..core.socketcore import SocketCore
from ..errors import os_error, timeout_error
from .inet import canonical

log = logging.getLogger("atsock.socket")

READ_CHUNK = 16 * 1024


async def _until_readable(conn: Connection, timeout: Optional[float], want: int = 1) -> None:
    """Wait for data, end of stream or an error, at most ``timeout`` seconds. A timer and the
    connection's own notice, with no task of its own: a stream read in data mode waits once per
    piece that comes off the line. With ``want``, data counts once that much is buffered: a read
    that gathers wakes once for many fetches, not once for each."""
    ready = (lambda: conn.readable) if want <= 1 else (lambda: _holds(conn, want))
    if ready():
        return
    if timeout == 0:
        raise os_error(errno.EAGAIN)
    if timeout is None:
        while not ready():
            await conn.notifier.next_change(ready)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        if loop.time() >= deadline:
            raise timeout_error()
        change = conn.notifier.next_change(ready)
        timer = loop.call_at(deadline, _wake, change)
        try:
            await change
        finally:
            timer.cancel()


def _holds(conn: Connection, want: int) -> bool:
    """``want`` bytes are buffered, or no more will come (end of stream, an error)."""
    inbox = conn.inbox
    return inbox.buffered >= want or inbox.eof or conn.error is not None


def _wake(change: asyncio.Future) -> None:
    if not change.done():
        change.set_result(None)


async def stream(core: SocketCore, conn: Connection, bufsize: int, timeout: Optional[float], peek: bool) -> bytes:
    core.require(conn, Op.RECEIVE)
    if bufsize == 0:
        return b""
    await _until_readable(conn, timeout)
    return core.take(conn, bufsize, peek)


async def datagram(core: SocketCore, conn: Connection, timeout: Optional[float], peek: bool,
                   peer: Optional[Tuple[str, int]]):
    """The next datagram (from ``peer`` only, when the socket is connected to one)."""
    core.require(conn, Op.RECEIVE)
    while True:
        await _until_readable(conn, timeout)
        data, sender = core.take_datagram(conn, peek)
        if peer is None or (canonical(sender[0]), sender[1]) == (canonical(peer[0]), peer[1]):
            return data, sender
        if peek:
            core.take_datagram(conn)
        log.debug("datagram from %s dropped: socket is connected to %s", sender, peer)


async def incoming(core: SocketCore, listener: Connection, timeout: Optional[float]) -> Connection:
    core.require(listener, Op.ACCEPT)
    await _until_readable(listener, timeout)
    return core.take_incoming(listener)


async def gather(core: SocketCore, conn: Connection, limit: Optional[int], until: Optional[bytes],
                 timeout: Optional[float]) -> Optional[bytes]:
    """Collect up to ``limit`` bytes (None: to end of stream) or through ``until``; a non-blocking
    socket returns what is there (None if nothing)."""
    core.require(conn, Op.RECEIVE)
    got = bytearray()
    try:
        while limit is None or len(got) < limit:
            want = READ_CHUNK if limit is None else limit - len(got)
            if timeout == 0:
                if not conn.readable:
                    break
            elif until is None:
                # one wake-up for a good piece, not for every fetch (READ_CHUNK stays below the
                # drain's HIGH_WATER, at which fetching waits for the reader to make room)
                await _until_readable(conn, timeout, min(want, READ_CHUNK))
            elif not conn.readable:
                await _until_readable(conn, timeout)  # (a line may end in any piece)
            if until is not None:
                cut = conn.inbox.data.find(until)
                if cut >= 0:
                    want = min(want, cut + len(until))
            chunk = core.take(conn, want)
            if not chunk:
                break  # end of stream
            got += chunk
            if until is not None and got.endswith(until):
                break
    except BaseException:
        core.unread(conn, bytes(got))  # nothing gathered is lost
        raise
    if timeout == 0 and not got and not conn.inbox.eof:
        return None
    return bytes(got)


async def start_connect(core: SocketCore, conn: Connection, ip: str, port: int, local_port: int) -> asyncio.Future:
    """Begin a connect that a non-blocking socket watches with ``poll``."""
    async def connect_in_background() -> None:
        try:
            await core.connect(conn, ip, port, None, local_port)
        except BaseException as exc:
            conn.connect_error = exc  # recorded before the task counts as done: poll sees both at once
            raise

    task = asyncio.ensure_future(connect_in_background())
    task.add_done_callback(lambda done: (done.cancelled() or done.exception(), conn.changed()))
    return task
