"""How the asyncio layer reaches the engine: each call runs one socket-core coroutine on the
engine's own loop (its thread) and is awaited from the caller's loop, without blocking it
(receiving goes the other way, through :mod:`.pump`).

The engine is the one the blocking API uses; nothing here talks AT. A caller that stops waiting
(``wait_for``, a cancelled task) never stops an exchange half-way: the engine sees every written
command through. What a cancelled call leaves behind is settled here: a connection that opened
after its caller gave up is closed, a client accepted for nobody is closed.
"""
import asyncio
import errno
import random
import socket
from typing import Awaitable, Callable, List, Optional, Tuple, TypeVar

from ..constants import AF_INET
from ..core import validate
from ..core.connection import Connection
from ..errors import os_error
from ..surface import inet, receiving

T = TypeVar("T")
Address = Tuple[str, int]

EPHEMERAL = (49152, 65535)


def on_engine(modem, coro: Awaitable[T]) -> "asyncio.Future[T]":
    """A future of the running loop for ``coro``, which runs on the modem's engine loop."""
    return asyncio.wrap_future(modem.submit(coro))


async def _closing_on_cancel(modem, conn: Connection, coro: Awaitable[T]) -> T:
    """Await an open; a caller that gives up leaves nothing open: the open is abandoned (the
    engine releases the id once the module has answered) or, if it already succeeded, closed."""
    try:
        return await on_engine(modem, coro)
    except asyncio.CancelledError:
        modem.close_later(conn)  # queued after the engine-side cancel, so it sees the outcome
        raise


# --- addresses --------------------------------------------------------------------------------
async def addresses(modem, host, family: int = 0) -> List[str]:
    """Every address of ``host`` the modem's sockets can use (only of ``family`` if one is given),
    in the order the modem gave them: an IP literal as it is, a name through the modem's DNS
    (never the host's). EAFNOSUPPORT, with the reason, for a literal the modem cannot reach."""
    literal = validate.ip_literal(host)
    if literal is not None:
        literal, zone = validate.split_scope(literal)
        kind = inet.family_of(literal)
        refusal = modem.family_refusal(kind) or (family and kind != family and
                                                 f"this socket is {inet.family_name(family)}")
        if refusal:
            raise os_error(errno.EAFNOSUPPORT, f"{host!r}: {refusal}")
        if zone is not None:
            raise os_error(errno.EINVAL, f"{host!r}: the modem's AT commands cannot name an interface")
        return [literal]
    name = validate.hostname(host)
    modem.require_online()
    found = await on_engine(modem, modem.dialect.resolve(name, family))
    usable = [ip for ip in found if modem.family_refusal(inet.family_of(ip)) is None
              and (not family or inet.family_of(ip) == family)]
    if not usable:
        raise socket.gaierror(socket.EAI_NONAME, f"{name!r} has no address the modem's sockets can use")
    return usable


async def resolve(modem, host) -> str:
    """The first IPv4 address of ``host`` (for the AF_INET sockets of datagram endpoints)."""
    return (await addresses(modem, host, AF_INET))[0]


def local_port(modem, host, port) -> int:
    """The port of a local address to listen or bind on: the host part must be one of the modem's."""
    if host not in (None, "", "0.0.0.0", "127.0.0.1", "localhost", modem.local_ip):
        raise os_error(errno.EADDRNOTAVAIL, f"{host!r} is not an address of the modem")
    return validate.port_number(0 if port is None else port)


async def _on_some_port(modem, port: int, opener: Callable[[int], Awaitable[None]]) -> int:
    """Open with ``port``, or with ephemeral ports (0) until the module finds one free."""
    for _ in range(1 if port else 5):
        chosen = port or random.randint(*EPHEMERAL)
        try:
            await opener(chosen)
            return chosen
        except OSError as exc:
            if port or exc.args[0] != errno.EADDRINUSE:
                raise
    raise os_error(errno.EADDRINUSE, "the modem found no free local port")


# --- opening ----------------------------------------------------------------------------------
async def connect(modem, conn: Connection, ip: str, port: int) -> None:
    modem.require_online()
    await _closing_on_cancel(modem, conn, modem.core.connect(conn, ip, port, None, 0))


async def listen(modem, conn: Connection, port: int, backlog: int) -> int:
    modem.require_online()
    depth = max(1, min(backlog, modem.max_sockets - 1))
    return await _on_some_port(modem, port, lambda chosen: _closing_on_cancel(
        modem, conn, modem.core.listen(conn, chosen, depth)))


async def bind_udp(modem, conn: Connection, port: int, peer: Optional[Address]) -> int:
    modem.require_online()
    return await _on_some_port(modem, port, lambda chosen: _closing_on_cancel(
        modem, conn, modem.core.bind_udp(conn, chosen, peer)))


async def accept(modem, listener: Connection) -> Connection:
    """The next client. A caller that gives up does not lose one: a client the engine takes
    after that is closed."""
    future = on_engine(modem, receiving.incoming(modem.core, listener, None))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(lambda done: done.cancelled() or done.exception()
                                 or modem.close_later(done.result()))
        raise


# --- data (started by the transports, which chain one send after the other) ---------------------
def send(modem, conn: Connection, data: bytes, dest: Optional[Address] = None) -> "asyncio.Future[int]":
    return on_engine(modem, modem.core.send(conn, data, None, dest))


def close(modem, conn: Connection) -> "asyncio.Future[None]":
    return on_engine(modem, modem.core.close(conn))


def close_then(modem, conn: Connection, then: Callable[[], None]) -> None:
    """Close ``conn`` and call ``then()`` once the module has let it go (or could not be asked:
    a modem closed already has nothing left to close)."""
    try:
        future = close(modem, conn)
    except OSError:
        asyncio.get_running_loop().call_soon(then)
        return
    future.add_done_callback(lambda done: (done.cancelled() or done.exception(), then()))
