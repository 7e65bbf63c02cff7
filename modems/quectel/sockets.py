"""Quectel sockets in buffer access mode: open, send, fetch, accept, close.

=====================  ======================================================================
TCP ``connect``        ``AT+QIOPEN=<ctx>,<id>,"TCP","<ip>",<port>,<local_port>,0`` -> ``OK`` -> ``+QIOPEN: <id>,<err>``
TCP ``listen``         ``AT+QIOPEN=<ctx>,<id>,"TCP LISTENER","127.0.0.1",0,<port>,0``; clients arrive as
                       ``+QIURC: "incoming",<new id>,<id>,"<ip>",<port>``
UDP ``bind``           ``AT+QIOPEN=<ctx>,<id>,"UDP SERVICE","127.0.0.1",0,<port>,0``
``send``               ``AT+QISEND=<id>,<n>`` -> ``> `` -> n bytes -> ``SEND OK`` (n <= 1460)
``sendto``             ``AT+QISEND=<id>,<n>,"<ip>",<port>`` -> ``> `` -> one datagram -> ``SEND OK``
data arrives           ``+QIURC: "recv",<id>`` -> ``AT+QIRD=<id>,1500`` (UDP: ``AT+QIRD=<id>``, one
                       datagram with its sender) until ``+QIRD: 0``
``close``              ``AT+QICLOSE=<id>``
=====================  ======================================================================
"""
import asyncio
import errno
import logging
from typing import Dict, List, Optional

from atsock.errors import CommandTimeout, os_error, timeout_error
from atsock.link import Link

from ..base import DrainScheduler, parse_int, split_fields
from .codes import MAX_LINKS, QIRD_MAX, QISEND_MAX, T_QICLOSE, T_QIOPEN_URC, T_QIRD, T_QISEND, T_QUERY, quectel_error

log = logging.getLogger("atsock.quectel")

SEND_FINALS = frozenset({"SEND OK", "SEND FAIL"})
LOCAL_ADDRESS = "127.0.0.1"  # what the notes and drivers pass as the address of listeners and UDP services


class Sockets:
    def __init__(self, dialect, context_id: int, timeouts: Optional[dict] = None):
        timeouts = timeouts or {}
        self.t_open = timeouts.get("open", T_QIOPEN_URC)
        self.t_send = timeouts.get("send", T_QISEND)
        self.t_read = timeouts.get("read", T_QIRD)
        self.t_close = timeouts.get("close", T_QICLOSE)
        self.dialect = dialect
        self.engine = dialect.engine
        self.ctx = context_id
        self.drains = DrainScheduler(self.fetch)
        self.incoming_refused = 0  # "incoming full" notices: clients the module turned away
        self._open_waiters: Dict[int, asyncio.Future] = {}
        self._keepalive: Optional[int] = 0  # what AT+QICFG="tcp/keepalive" is set to (0: off)

    # --- opening --------------------------------------------------------------------------------
    async def _open(self, link: Link, service: str, address: str, remote_port: int, local_port: int,
                    timeout: Optional[float]) -> None:
        link_id = self.dialect.allocate_id()
        self.dialect.register(link, link_id)
        link.life.start_connect()
        waiter = asyncio.get_running_loop().create_future()
        self._open_waiters[link_id] = waiter
        budget = self.t_open if timeout is None else min(timeout, self.t_open)
        try:
            await self.engine.command(
                f'AT+QIOPEN={self.ctx},{link_id},"{service}","{address}",{remote_port},{local_port},0',
                timeout=T_QUERY)
            error = await asyncio.wait_for(waiter, budget)
        except asyncio.TimeoutError:
            await self._abandon_open(link)
            raise timeout_error(f"opening {service} to {address}:{remote_port} timed out") from None
        except BaseException:
            await self._abandon_open(link)
            raise
        finally:
            self._open_waiters.pop(link_id, None)
        if error != 0:
            await self._abandon_open(link)
            raise quectel_error(error)

    async def _abandon_open(self, link: Link) -> None:
        """A failed or abandoned QIOPEN may still hold the connectID; free it before reuse."""
        try:
            await self.engine.command(f"AT+QICLOSE={link.id}", timeout=self.t_close, check=False)
        finally:
            self.dialect.unregister(link)
            link.id = None
            if link.life.can("connect_failed"):
                link.life.connect_failed()

    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float], local_port: int) -> None:
        await self._apply_keepalive(link.keepalive)
        link.kind = "tcp"
        await self._open(link, "TCP", ip, port, local_port, timeout)
        link.remote = (ip, port)
        link.local_port = local_port
        link.life.connect_done()

    async def listen(self, link: Link, local_port: int, backlog: int) -> None:
        await self._apply_keepalive(link.keepalive)
        link.kind = "listener"
        link.backlog = backlog
        await self._open(link, "TCP LISTENER", LOCAL_ADDRESS, 0, local_port, None)
        link.local_port = local_port
        link.life.listen_done()

    async def open_udp(self, link: Link, local_port: int) -> None:
        link.kind = "udp"
        await self._open(link, "UDP SERVICE", LOCAL_ADDRESS, 0, local_port, None)
        link.local_port = local_port
        link.life.bind_done()

    async def _apply_keepalive(self, minutes: Optional[int]) -> None:
        """TCP keepalive is a module-wide setting applied to sockets opened after it changes."""
        if minutes is None or minutes == self._keepalive:
            return
        if minutes:
            await self.engine.command(f'AT+QICFG="tcp/keepalive",1,{minutes},25,3', timeout=T_QUERY)
        else:
            await self.engine.command('AT+QICFG="tcp/keepalive",0', timeout=T_QUERY)
        self._keepalive = minutes

    # --- sending --------------------------------------------------------------------------------
    async def _send_one(self, command: str, chunk: bytes, deadline: Optional[float]) -> bool:
        """One QISEND; True once the module took the chunk, False if it stayed full until the deadline."""
        loop = asyncio.get_running_loop()
        backoff = 0.02
        while True:
            try:
                response = await self.engine.command(command, payload=chunk, timeout=self.t_send,
                                                     extra_finals=SEND_FINALS, check=False)
            except CommandTimeout:  # were the bytes sent? Nobody knows: the stream is broken
                raise os_error(errno.ETIMEDOUT, "no answer to a send: the stream's state is unknown") from None
            final = response.final.text
            if final == "SEND OK":
                return True
            if final != "SEND FAIL":
                raise os_error(errno.ECONNRESET, f"modem refused to send ({final})")
            # SEND FAIL: the module's send buffer is full; wait and offer the same bytes again
            if deadline is not None and loop.time() + backoff > deadline:
                return False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        if link.error is not None:  # failed while the caller was on its way here
            raise link.error
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        sent = 0
        while sent < len(data):
            chunk = data[sent:sent + QISEND_MAX]
            try:
                accepted = await self._send_one(f"AT+QISEND={link.id},{len(chunk)}", chunk, deadline)
            except OSError as exc:
                link.fail(exc)
                if sent:
                    return sent
                raise
            if not accepted:
                if sent:
                    return sent
                raise timeout_error("modem send buffer stayed full")
            sent += len(chunk)
        return sent

    async def sendto(self, link: Link, data: bytes, ip: str, port: int, timeout: Optional[float]) -> int:
        if len(data) > QISEND_MAX:
            raise os_error(errno.EMSGSIZE, f"a datagram carries at most {QISEND_MAX} bytes through this modem")
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        if not await self._send_one(f'AT+QISEND={link.id},{len(data)},"{ip}",{port}', data, deadline):
            raise timeout_error("modem send buffer stayed full")
        return len(data)

    # --- receiving ------------------------------------------------------------------------------
    async def fetch(self, link: Link) -> bool:
        command = f"AT+QIRD={link.id}" if link.kind == "udp" else f"AT+QIRD={link.id},{QIRD_MAX}"
        response = await self.engine.command(command, timeout=self.t_read, response_prefixes=("+QIRD:",), check=False)
        if not response.final.ok:
            raise os_error(errno.ECONNRESET, f"modem cannot read connectID {link.id} ({response.final.text})")
        line = response.first("+QIRD:")
        if line is None or line.data is None:
            raise os_error(errno.EPROTO, f"AT+QIRD answered without a +QIRD header: {response.lines!r}")
        if not line.data:
            return False
        if link.kind == "udp":
            fields = split_fields(line.text[len("+QIRD:"):])
            port = parse_int(fields[2], 0, 65535) if len(fields) > 2 else None
            if port is None:
                raise os_error(errno.EPROTO, f"datagram without a sender: {line.text!r}")
            link.deliver_datagram(line.data, (fields[1], port))
        else:
            link.deliver(line.data)
        return True

    # --- closing --------------------------------------------------------------------------------
    async def close_link(self, link: Link) -> None:
        pending = list(link.incoming)
        link.incoming.clear()
        try:
            if link.id is not None and self.engine.gone is None:
                await self.engine.command(f"AT+QICLOSE={link.id}", timeout=self.t_close, check=False)
        finally:
            self.dialect.unregister(link)
            link.release()
        for accepted in pending:  # connections the caller never accepted go with their listener
            await self.close_link(accepted)

    def close_soon(self, link: Link) -> None:
        task = asyncio.ensure_future(self.close_link(link))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # --- URCs -----------------------------------------------------------------------------------
    def on_qiopen(self, text: str) -> None:
        fields = split_fields(text[len("+QIOPEN:"):])
        link_id = parse_int(fields[0], 0, MAX_LINKS - 1)
        error = parse_int(fields[1], 0, 65535) if len(fields) > 1 else None
        waiter = self._open_waiters.get(link_id) if link_id is not None else None
        if waiter is None or error is None:
            log.warning("unexpected %r", text)
        elif not waiter.done():
            waiter.set_result(error)

    def on_data(self, fields: List[str], peer_finished: bool) -> None:
        link = self.dialect.link_for(parse_int(fields[1], 0, MAX_LINKS - 1) if len(fields) > 1 else None)
        if link is not None:
            self.drains.request(link, peer_finished)

    def on_incoming(self, fields: List[str]) -> None:
        if len(fields) < 5:
            log.warning("malformed incoming notice %r", fields)
            return
        new_id = parse_int(fields[1], 0, MAX_LINKS - 1)
        listener = self.dialect.link_for(parse_int(fields[2], 0, MAX_LINKS - 1))
        port = parse_int(fields[4], 0, 65535)
        if new_id is None or port is None or self.dialect.link_for(new_id) is not None:
            log.warning("inconsistent incoming notice %r", fields)
            return
        link = Link("tcp")
        self.dialect.register(link, new_id)
        link.remote = (fields[3], port)
        link.life.accepted()
        if listener is None or listener.state != "listening" or len(listener.incoming) >= listener.backlog:
            log.warning("turning away %s:%d (listener gone or backlog of %s full)", fields[3], port,
                        listener.backlog if listener else "-")
            self.close_soon(link)
            return
        link.local_port = listener.local_port
        listener.incoming.append(link)
        listener.changed()

    def on_incoming_full(self) -> None:
        self.incoming_refused += 1
        log.warning("the module turned a client away: every connectID is in use (incoming full)")
