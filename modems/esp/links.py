"""ESP-AT links (ids 0-4) as sockets: CIPSTART, CIPSEND, passive CIPRECVDATA, CIPSERVER, CIPCLOSE.

=====================  ======================================================================
TCP ``connect``        ``AT+CIPSTART=<id>,"TCP","<ip>",<port>[,<keepalive s>]`` -> ``<id>,CONNECT`` ``OK``
UDP                    ``AT+CIPSTART=<id>,"UDP","<peer>",<port>,<local port>,2`` (adopt every sender)
``listen``             ``AT+CIPSERVERMAXCONN=5``, ``AT+CIPSERVER=1,<port>``; clients arrive as
                       ``<id>,CONNECT`` and their address is read with ``AT+CIPSTATUS``
``send``/``sendto``    ``AT+CIPSEND=<id>,<n>[,"<ip>",<port>]`` -> ``OK`` ``> `` -> n bytes ->
                       ``Recv n bytes`` -> ``SEND OK`` (n <= 2048)
passive receive        ``+IPD,<id>,<len>`` -> ``AT+CIPRECVDATA=<id>,2048`` until it answers ERROR
active receive         ``+IPD,<id>,<len>[,<ip>,<port>]:<data>`` pushed by the module
peer closes            ``<id>,CLOSED`` (held back in passive mode until the data was read)
``close``              ``AT+CIPCLOSE=<id>``; a listener: ``AT+CIPSERVER=0``
=====================  ======================================================================

A TCP ``SEND FAIL`` breaks the stream: the module may have sent part of the chunk, so the socket
fails with EIO instead of offering the bytes again.
"""
import asyncio
import errno
import logging
import re
from typing import Optional

from atsock.errors import CommandTimeout, os_error, timeout_error
from atsock.link import Link

from ..base import DrainScheduler, parse_int, split_fields
from .codes import BUSY, MAX_LINKS, RECV_CHUNK, T_CIPCLOSE, T_CIPSEND, T_CIPSTART, T_QUERY

log = logging.getLogger("atsock.esp")

_IPD = re.compile(r'\+IPD,(\d+),(\d+)(?:,"?([^",]*)"?,(\d+))?$')
_RECVDATA_SENDER = re.compile(r'\+CIPRECVDATA:\d+,"([^"]*)",(\d+),?$')
SEND_FINALS = frozenset({"SEND OK", "SEND FAIL"}) | BUSY
ACTIVE_LIMIT = 1024 * 1024  # unread bytes one link may hold in active receive mode


class Links:
    def __init__(self, dialect):
        timeouts = dialect.settings.timeouts
        self.t_open = timeouts.get("open", T_CIPSTART)
        self.t_send = timeouts.get("send", T_CIPSEND)
        self.t_read = timeouts.get("read", T_QUERY)
        self.t_close = timeouts.get("close", T_CIPCLOSE)
        self.d = dialect
        self.engine = dialect.engine
        self.drains = DrainScheduler(self.fetch)
        self.server: Optional[Link] = None
        self._closed_while_opening = set()  # links whose CLOSED came before their CIPSTART's OK was handled

    # --- opening --------------------------------------------------------------------------------
    async def _start(self, link: Link, arguments: str, timeout: Optional[float]) -> None:
        """AT+CIPSTART runs the whole connect; a caller's shorter timeout leaves it running in the
        background with the id reserved, and closes whatever it opens."""
        link_id = self.d.allocate_id()
        self.d.register(link, link_id)
        link.life.start_connect()
        task = asyncio.ensure_future(self.d.command(f"AT+CIPSTART={link_id},{arguments}", timeout=self.t_open,
                                                    check=False))
        try:
            response = await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            self._hand_over(link, task)
            raise timeout_error(f"connect ({arguments}) timed out") from None
        except BaseException:
            self._hand_over(link, task)
            raise
        if not response.final.ok:
            self._closed_while_opening.discard(link)
            self.d.unregister(link)
            link.id = None
            link.life.connect_failed()
            details = " ".join(line.text for line in response.lines)
            if "DNS Fail" in details:
                raise os_error(errno.EHOSTUNREACH, "the module could not resolve the host")
            if "no ip" in details:
                raise os_error(errno.ENETDOWN, "the module has no IP address (Wi-Fi not joined)")
            if "ALREADY" in details:
                raise os_error(errno.EADDRINUSE, f"link {link_id} is already in use on the module")
            raise os_error(errno.ECONNREFUSED, f"the module could not connect ({details or response.final.text})")

    def _hand_over(self, link: Link, task: asyncio.Future) -> None:
        placeholder = Link(link.kind)
        self.d.unregister(link)
        self.d.register(placeholder, link.id)
        link.id = None
        if link.life.can("connect_failed"):
            link.life.connect_failed()

        def finished(done: asyncio.Future) -> None:
            opened = not done.cancelled() and done.exception() is None and done.result().final.ok
            if opened:
                asyncio.ensure_future(self.close_link(placeholder))
            else:
                self.d.unregister(placeholder)

        task.add_done_callback(finished)

    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float], local_port: int) -> None:
        if local_port:
            raise os_error(errno.EOPNOTSUPP, "ESP-AT cannot choose the local port of a TCP client")
        keepalive = f",{link.keepalive * 60}" if link.keepalive else ""
        link.kind = "tcp"
        await self._start(link, f'"TCP","{ip}",{port}{keepalive}', timeout)
        link.remote = (ip, port)
        link.life.connect_done()
        self._settle_early_close(link)

    def _settle_early_close(self, link: Link) -> None:
        if link in self._closed_while_opening:
            self._closed_while_opening.discard(link)
            self.on_closed(link.id)

    async def open_udp(self, link: Link, local_port: int, peer=None) -> None:
        ip, port = peer or ("0.0.0.0", 0)
        link.kind = "udp"
        await self._start(link, f'"UDP","{ip}",{port},{local_port},2', None)
        link.local_port = local_port
        link.life.bind_done()
        self._settle_early_close(link)

    async def listen(self, link: Link, local_port: int, backlog: int) -> None:
        if self.server is not None:
            raise os_error(errno.EMFILE, "the module runs one server at a time")
        link.kind = "listener"
        link.backlog = backlog
        link.life.start_connect()
        self.server = link
        try:
            await self.d.command(f"AT+CIPSERVERMAXCONN={MAX_LINKS}", timeout=T_QUERY, check=False)
            response = await self.d.command(f"AT+CIPSERVER=1,{local_port}", timeout=T_QUERY, check=False)
            if not response.final.ok:
                raise os_error(errno.EADDRINUSE, f"the module could not listen on port {local_port}")
            await self.d.command("AT+CIPSTO=0", timeout=T_QUERY, check=False)  # never drop idle clients
        except BaseException:
            self.server = None
            link.life.connect_failed()
            raise
        link.local_port = local_port
        link.life.listen_done()

    # --- sending --------------------------------------------------------------------------------
    async def _send_one(self, link: Link, command: str, chunk: bytes) -> None:
        for attempt in range(10):
            try:
                response = await self.engine.command(command, payload=chunk, timeout=self.t_send,
                                                     not_final=frozenset({"OK"}), extra_finals=SEND_FINALS,
                                                     check=False)
            except CommandTimeout:  # were the bytes sent? Nobody knows: the stream is broken
                raise os_error(errno.ETIMEDOUT, "no answer to a send: the stream's state is unknown") from None
            final = response.final.text
            if final == "SEND OK":
                return
            if final in BUSY:
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            if final == "SEND FAIL" and link.kind == "tcp":
                raise os_error(errno.EIO, "the module failed to send: part of the stream may be lost")
            if final == "SEND FAIL":
                raise os_error(errno.EAGAIN, "the module could not send the datagram")
            raise os_error(errno.ECONNRESET, f"the module refused to send ({final})")
        raise os_error(errno.EBUSY, "the module stayed busy")

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        if link.error is not None:  # what ended the link says more than its missing id
            raise link.error
        if link.id is None:  # the module closed the link when the peer went away
            raise os_error(errno.ECONNRESET, "the peer closed the connection")
        sent = 0
        step = self.d.settings.send_max
        while sent < len(data):
            chunk = data[sent:sent + step]
            try:
                await self._send_one(link, f"AT+CIPSEND={link.id},{len(chunk)}", chunk)
            except OSError as exc:
                link.fail(exc)
                if sent and exc.args[0] != errno.EIO:
                    return sent
                raise
            sent += len(chunk)
        return sent

    async def sendto(self, link: Link, data: bytes, ip: str, port: int, timeout: Optional[float]) -> int:
        if len(data) > self.d.settings.send_max:
            raise os_error(errno.EMSGSIZE, f"a datagram carries at most {self.d.settings.send_max} bytes")
        await self._send_one(link, f'AT+CIPSEND={link.id},{len(data)},"{ip}",{port}', data)
        return len(data)

    # --- receiving ------------------------------------------------------------------------------
    async def fetch(self, link: Link) -> bool:
        if link.id is None:
            return False  # the module already closed the link; what it held was read before
        response = await self.d.command(f"AT+CIPRECVDATA={link.id},{RECV_CHUNK}", timeout=self.t_read,
                                        response_prefixes=("+CIPRECVDATA",), check=False)
        line = response.first("+CIPRECVDATA")
        if line is not None and line.data is None:
            raise os_error(errno.EPROTO, f"+CIPRECVDATA without its data: {line.text[:60]!r}")
        if not response.final.ok or line is None or not line.data:
            return False  # ERROR: nothing buffered (documented for 2.x)
        if link.kind == "udp":
            match = _RECVDATA_SENDER.match(line.text)
            sender = (match.group(1), int(match.group(2))) if match else link.remote or ("0.0.0.0", 0)
            link.deliver_datagram(line.data, sender)
        else:
            link.deliver(line.data)
        return True

    def on_ipd(self, text: str, data: Optional[bytes]) -> None:
        match = _IPD.match(text)
        if match is None:
            log.warning("malformed +IPD header %r", text)
            return
        link = self.d.link_for(int(match.group(1)))
        if link is None:
            log.warning("data for link %s, which is not open", match.group(1))
            return
        if data is None:
            self.drains.request(link)  # passive mode: the module holds the data until fetched
        elif link.buffered + len(data) > ACTIVE_LIMIT:
            # active mode cannot tell the module to stop; rather than grow without bound or drop
            # bytes unnoticed, the socket fails
            link.fail(os_error(errno.ENOBUFS, f"more than {ACTIVE_LIMIT} bytes unread in active receive mode "
                                              "(passive mode applies back-pressure instead)"))
        elif link.kind == "udp":
            link.deliver_datagram(data, (match.group(3) or "0.0.0.0", int(match.group(4) or 0)))
        else:
            link.deliver(data)

    def on_protocol_error(self, reason: str, header: Optional[str]) -> None:
        """A refused +IPD header names the link whose data is now lost: that socket fails."""
        match = _IPD.match(header or "")
        link = self.d.link_for(int(match.group(1))) if match else None
        if link is not None:
            link.fail(os_error(errno.EPROTO, f"received data lost to a protocol error: {reason}"))

    # --- connection notices ---------------------------------------------------------------------
    def on_connect(self, link_id: int) -> None:
        link = self.d.link_for(link_id)
        if link is not None:
            return  # our own AT+CIPSTART, answered before its OK
        server = self.server
        accepted = Link("tcp")
        self.d.register(accepted, link_id)
        accepted.life.accepted()
        if server is None or server.state != "listening":
            log.warning("link %d connected with no server listening: closing it", link_id)
            self.close_soon(accepted)
            return
        asyncio.ensure_future(self._admit(server, accepted))

    async def _admit(self, server: Link, accepted: Link) -> None:
        """Learn the client's address, then queue it for accept() (or turn it away)."""
        try:
            response = await self.d.command("AT+CIPSTATUS", timeout=T_QUERY, response_prefixes=("+CIPSTATUS:",))
            for value in response.values("+CIPSTATUS:"):
                fields = split_fields(value)
                if len(fields) >= 4 and parse_int(fields[0], 0, MAX_LINKS - 1) == accepted.id:
                    accepted.remote = (fields[2], parse_int(fields[3], 0, 65535) or 0)
        except Exception as exc:
            log.warning("could not read the address of link %s: %s", accepted.id, exc)
        if server.state != "listening" or len(server.incoming) >= server.backlog or accepted.id is None:
            log.warning("turning away %s (listener gone or backlog full)", accepted.remote)
            await self.close_link(accepted)
            return
        accepted.local_port = server.local_port
        server.incoming.append(accepted)
        server.changed()

    def on_closed(self, link_id: int) -> None:
        link = self.d.link_for(link_id)
        if link is None or link.state == "closed":
            return
        if link.state == "connecting":
            # a failed AT+CIPSTART reports CLOSED after its ERROR, a quick peer after its OK:
            # which one this was is known once the command's answer has been handled
            self._closed_while_opening.add(link)
            return
        self.d.unregister(link)
        link.id = None  # the module may hand this id to a new client right away
        if link.kind == "udp":
            link.fail(os_error(errno.ENETDOWN, "the module closed the UDP link"))
        else:
            self.drains.request(link, peer_finished=True)

    # --- closing --------------------------------------------------------------------------------
    async def close_link(self, link: Link) -> None:
        pending = list(link.incoming)
        link.incoming.clear()
        try:
            if self.engine.gone is None:
                if link is self.server:
                    self.server = None
                    await self.d.command("AT+CIPSERVER=0", timeout=T_QUERY, check=False)
                elif link.id is not None and self.d.link_for(link.id) is link:
                    await self.d.command(f"AT+CIPCLOSE={link.id}", timeout=self.t_close, check=False)
        finally:
            self.d.unregister(link)
            link.release()
        for accepted in pending:
            await self.close_link(accepted)

    def close_soon(self, link: Link) -> None:
        task = asyncio.ensure_future(self.close_link(link))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
