"""Quectel sockets in buffer access mode: the AT text of each exchange and its answers.

=====================  ======================================================================
TCP ``connect``        ``AT+QIOPEN=<ctx>,<id>,"TCP","<ip>",<port>,<local_port>,0`` -> ``OK`` -> ``+QIOPEN: <id>,<err>``
TCP ``listen``         ``AT+QIOPEN=<ctx>,<id>,"TCP LISTENER","127.0.0.1",0,<port>,0``; clients arrive as
                       ``+QIURC: "incoming",<new id>,<id>,"<ip>",<port>``
UDP ``bind``           ``AT+QIOPEN=<ctx>,<id>,"UDP SERVICE","127.0.0.1",0,<port>,0``
IPv6                   the same, with IPv6 literals written out (``2001:db8:0:0:0:0:0:1``) and
                       ``"0:0:0:0:0:0:0:1"`` as the local address of listeners and UDP services
``send``               ``AT+QISEND=<id>,<n>`` -> ``> `` -> n bytes -> ``SEND OK`` (n <= 1460);
                       ``SEND FAIL``: the module's buffer is full, the same bytes go again later
``sendto``             ``AT+QISEND=<id>,<n>,"<ip>",<port>`` -> ``> `` -> one datagram -> ``SEND OK``
data arrives           ``+QIURC: "recv",<id>`` -> ``AT+QIRD=<id>,1500`` (UDP: ``AT+QIRD=<id>``, one
                       datagram with its sender) until ``+QIRD: 0``
peer closes            ``+QIURC: "closed",<id>``: the id stays the host's until ``AT+QICLOSE``
``close``              ``AT+QICLOSE=<id>``
=====================  ======================================================================

A connection whose TLS the module does (``conn.tls``) uses the AT+QSSL* commands instead
(:mod:`.tls`): same exchanges, other names.

The life around these exchanges (ids, retries, drains, accept queues) is the socket core's.
"""
import asyncio
import errno
import ipaddress
import logging
import struct
from typing import Dict, List, Optional, Tuple

from atsock.wire import atcmd
from atsock.core.connection import Connection, Kind
from atsock.constants import AF_INET, AF_INET6
from atsock.core.dialect import Exchange, FetchExchange, SendOutcome, SocketCommands
from atsock.errors import os_error
from atsock.wire.fields import parse_int, split_fields

from . import cause
from .codes import MAX_LINKS, QIRD_MAX, QISEND_MAX, T_QICLOSE, T_QIOPEN_URC, T_QIRD, T_QISEND, T_QUERY, TEXT, quectel_error
from .tls import QuectelTls

log = logging.getLogger("atsock.quectel")

SEND_FINALS = frozenset({"SEND OK", "SEND FAIL"})
# what the notes and drivers pass as the address of listeners and UDP services; for IPv6 the
# loopback written out, as mbed's BG96 driver opens its IPv6 UDP SERVICE (ipv6.md §1.4)
LOCAL_ADDRESS = {AF_INET: "127.0.0.1", AF_INET6: "0:0:0:0:0:0:0:1"}


def conn_id(conn_or_id) -> atcmd.Param:
    slot_id = conn_or_id.id if isinstance(conn_or_id, Connection) else conn_or_id
    return atcmd.number(slot_id, 0, MAX_LINKS - 1, "connectID")


def address(ip: str) -> atcmd.Param:
    """An IP literal as QIOPEN/QISEND take it: IPv6 in eight groups of lower-case hex, without
    ``::`` (the form mbed's BG96 driver sends; whether modules take ``::`` is unconfirmed). The
    groups come from the address's bytes: ``exploded`` ends an IPv4-mapped address in a dotted
    quad from Python 3.13 on."""
    if ":" in ip:
        ip = ":".join(format(group, "x") for group in struct.unpack("!8H", ipaddress.IPv6Address(ip).packed))
    return atcmd.text(ip, "address", 64)


def port_param(port: int) -> atcmd.Param:
    return atcmd.number(port, 0, 65535, "port")


class QuectelSockets(SocketCommands):
    max_links = MAX_LINKS
    send_chunk = QISEND_MAX
    max_datagram = QISEND_MAX
    abortable_open = True  # AT+QICLOSE ends an open still waiting for its +QIOPEN

    def __init__(self, engine, context_id: int, timeouts: dict):
        self.engine = engine
        self.ctx = atcmd.number(context_id, 1, 16, "context id")
        self.t_open = timeouts.get("open", T_QIOPEN_URC)
        self.t_send = timeouts.get("send", T_QISEND)
        self.t_read = timeouts.get("read", T_QIRD)
        self.t_close = timeouts.get("close", T_QICLOSE)
        self.incoming_refused = 0  # "incoming full" notices: clients the module turned away
        self._open_waiters: Dict[int, asyncio.Future] = {}
        self._fetches: Dict[int, FetchExchange] = {}  # each id's AT+QIRD, built once
        self._keepalive: Optional[int] = 0  # what AT+QICFG="tcp/keepalive" is set to (0: off)
        self.tls = QuectelTls(engine, self.ctx, self.t_open, self.t_read, self.t_close)

    # --- opening --------------------------------------------------------------------------------
    async def _open(self, conn: Connection, service: str, ip: str, remote_port: int, local_port: int) -> None:
        slot_id = conn.id
        waiter = asyncio.get_running_loop().create_future()
        self._open_waiters[slot_id] = waiter
        try:
            response = await self.engine.command(
                atcmd.build("AT+QIOPEN", self.ctx, conn_id(slot_id), atcmd.text(service), address(ip),
                            port_param(remote_port), port_param(local_port), atcmd.number(0, 0, 2)),
                timeout=T_QUERY, check=False)
            if not response.final.ok:  # refused outright: the module keeps why
                raise await cause.failure(self.engine, "AT+QIOPEN", response.final)
            error = await asyncio.wait_for(waiter, self.t_open)
        except asyncio.TimeoutError:
            raise os_error(errno.ETIMEDOUT, f"no +QIOPEN for connectID {slot_id} within {self.t_open:g} s") from None
        finally:
            self._open_waiters.pop(slot_id, None)
        if error != 0:
            raise quectel_error(error)

    async def open_client(self, conn: Connection, ip: str, port: int, local_port: int) -> None:
        await self._apply_keepalive(conn.keepalive)
        if conn.tls is not None:
            if local_port:
                raise os_error(errno.EOPNOTSUPP, "AT+QSSLOPEN takes no local port")
            await self.tls.open(conn, ip, port)
            return
        await self._open(conn, "TCP", ip, port, local_port)

    def check_tls(self, request) -> None:
        self.tls.check(request)

    async def open_listener(self, conn: Connection, port: int, backlog: int) -> None:
        await self._apply_keepalive(conn.keepalive)
        await self._open(conn, "TCP LISTENER", LOCAL_ADDRESS[conn.family], 0, port)

    async def open_udp(self, conn: Connection, port: int, peer) -> None:
        await self._open(conn, "UDP SERVICE", LOCAL_ADDRESS[conn.family], 0, port)

    async def release_failed_open(self, slot_id: int) -> None:
        await self.close(slot_id, None)

    async def _apply_keepalive(self, minutes: Optional[int]) -> None:
        """TCP keepalive is a module-wide setting applied to sockets opened after it changes."""
        if minutes is None or minutes == self._keepalive:
            return
        if minutes:
            command = atcmd.build("AT+QICFG", atcmd.text("tcp/keepalive"), atcmd.number(1, 0, 1),
                                  atcmd.number(minutes, 1, 120, "keepalive minutes"), atcmd.number(25, 1, 100),
                                  atcmd.number(3, 1, 10))
        else:
            command = atcmd.build("AT+QICFG", atcmd.text("tcp/keepalive"), atcmd.number(0, 0, 1))
        await self.engine.command(command, timeout=T_QUERY)
        self._keepalive = minutes

    # --- data -----------------------------------------------------------------------------------
    def send_exchange(self, conn: Connection, chunk: bytes, dest) -> Exchange:
        params = [conn_id(conn), atcmd.number(len(chunk), 1, QISEND_MAX, "send length")]
        if dest is not None:
            if len(chunk) > QISEND_MAX:
                raise os_error(errno.EMSGSIZE, f"a datagram carries at most {QISEND_MAX} bytes through this modem")
            params += [address(dest[0]), port_param(dest[1])]
        name = "AT+QSSLSEND" if conn.id in self.tls.secure else "AT+QISEND"
        return Exchange(atcmd.build(name, *params), self.t_send, SEND_FINALS)

    def send_outcome(self, conn: Connection, final: str) -> SendOutcome:
        if final == "SEND OK":
            return SendOutcome.SENT
        if final == "SEND FAIL":
            return SendOutcome.FULL
        if conn.kind is Kind.UDP:
            raise os_error(errno.EIO, f"the modem refused the datagram ({final})")
        # the module's socket is closing or gone: a peer's close and a reset look the same here
        raise os_error(errno.EPIPE, f"the modem refused to send ({final}): the connection is closed")

    async def fetch(self, conn: Connection, guard) -> Optional[Tuple[bytes, Optional[Tuple[str, int]]]]:
        if conn.id in self.tls.secure:
            return await self.tls.fetch(conn, guard)
        udp = conn.kind is Kind.UDP
        command = atcmd.build("AT+QIRD", conn_id(conn)) if udp else self._read_command(conn.id)
        response = await self.engine.command(command, timeout=self.t_read, response_prefixes=("+QIRD:",),
                                             check=False, guard=guard)
        if not response.final.ok:
            raise await self._read_refused(response, conn.id)
        return self._read_answer(response, conn.id, udp)

    async def _read_refused(self, response, slot_id: int) -> OSError:
        """A refused AT+QIRD, with the module's own cause where it keeps one (AT+QIGETERROR)."""
        code = await cause.module_code(self.engine, response.final)
        why = f": modem error {code}, {TEXT.get(code, 'unknown')}" if code else ""
        return os_error(errno.ECONNRESET, f"modem cannot read connectID {slot_id} ({response.final.text}{why})")

    def fetch_exchange(self, conn: Connection) -> Optional[FetchExchange]:
        """A TCP connection's ``AT+QIRD=<id>,1500`` (UDP and module TLS take :meth:`fetch`)."""
        if conn.kind is not Kind.TCP or conn.id in self.tls.secure:
            return None
        slot_id = conn.id
        exchange = self._fetches.get(slot_id)
        if exchange is None:
            exchange = self._fetches[slot_id] = FetchExchange(
                self._read_command(slot_id), self.t_read, ("+QIRD:",),
                lambda response: self._read_answer(response, slot_id, False),
                explain=lambda response: self._read_refused(response, slot_id))
        return exchange

    @staticmethod
    def _read_command(slot_id: int) -> atcmd.CommandLine:
        return atcmd.build("AT+QIRD", conn_id(slot_id), atcmd.number(QIRD_MAX, 1, QIRD_MAX))

    @staticmethod
    def _read_answer(response, slot_id, udp: bool) -> Optional[Tuple[bytes, Optional[Tuple[str, int]]]]:
        if not response.final.ok:
            raise os_error(errno.ECONNRESET, f"modem cannot read connectID {slot_id} ({response.final.text})")
        line = response.first("+QIRD:")
        if line is None or line.data is None:
            raise os_error(errno.EPROTO, f"AT+QIRD answered without a +QIRD header: {response.lines!r}")
        if not line.data:
            return None
        if not udp:
            return line.data, None
        fields = split_fields(line.text[len("+QIRD:"):])
        port = parse_int(fields[2], 0, 65535) if len(fields) > 2 else None
        if port is None:
            raise os_error(errno.EPROTO, f"datagram without a sender: {line.text!r}")
        return line.data, (fields[1], port)

    # --- closing --------------------------------------------------------------------------------
    async def close(self, slot_id: int, kind) -> None:
        if slot_id in self.tls.secure:
            await self.tls.close(slot_id)
            return
        await self.engine.command(atcmd.build("AT+QICLOSE", conn_id(slot_id)), timeout=self.t_close, check=False)

    # --- URCs -----------------------------------------------------------------------------------
    def on_qiopen(self, text: str) -> None:
        fields = split_fields(text[len("+QIOPEN:"):])
        slot_id = parse_int(fields[0], 0, MAX_LINKS - 1)
        error = parse_int(fields[1], 0, 65535) if len(fields) > 1 else None
        waiter = self._open_waiters.get(slot_id) if slot_id is not None else None
        if waiter is None or error is None:
            log.warning("unexpected %r", text)
        elif not waiter.done():
            waiter.set_result(error)


def incoming_notice(fields: List[str]):
    """``"incoming",<new id>,<listener id>,"<ip>",<port>`` -> (new id, listener id, (ip, port)) or None."""
    if len(fields) < 5:
        return None
    new_id = parse_int(fields[1], 0, MAX_LINKS - 1)
    listener_id = parse_int(fields[2], 0, MAX_LINKS - 1)
    port = parse_int(fields[4], 0, 65535)
    if new_id is None or listener_id is None or port is None:
        return None
    return new_id, listener_id, (fields[3], port)
