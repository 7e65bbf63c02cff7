"""ESP-AT links (ids 0-4): the AT text of each exchange and its answers.

=====================  ======================================================================
TCP ``connect``        ``AT+CIPSTART=<id>,"TCP","<ip>",<port>[,<keepalive s>]`` -> ``<id>,CONNECT`` ``OK``;
                       a refused one: ``ERROR`` then ``<id>,CLOSED``
UDP                    ``AT+CIPSTART=<id>,"UDP","<peer>",<port>,<local port>,2`` (adopt every sender)
IPv6 (2.x)             ``"TCPv6"``/``"UDPv6"`` in the same commands; an unconnected UDPv6 link has peer ``"::"``
``listen``             ``AT+CIPSERVERMAXCONN=5``, ``AT+CIPSERVER=1,<port>``; clients arrive as
                       ``<id>,CONNECT`` and their address is read with ``AT+CIPSTATUS``
``send``/``sendto``    ``AT+CIPSEND=<id>,<n>[,"<ip>",<port>]`` -> ``OK`` ``> `` -> n bytes ->
                       ``Recv n bytes`` -> ``SEND OK`` (n <= 2048; 8192 on ESP-AT 2.4 and later)
passive receive        ``+IPD,<id>,<len>`` -> ``AT+CIPRECVDATA=<id>,2048`` (8192 on 2.x) until it answers ERROR
active receive         ``+IPD,<id>,<len>[,<ip>,<port>]:<data>`` pushed by the module
peer closes            ``<id>,CLOSED`` (held back in passive mode until the data was read); the id is
                       free on the module at once
``close``              ``AT+CIPCLOSE=<id>``; the server: ``AT+CIPSERVER=0``
=====================  ======================================================================

A connection whose TLS the module does (``conn.tls``) is an ``"SSL"`` link, configured first
(:mod:`.tls`); everything after AT+CIPSTART is a TCP link's.

A TCP ``SEND FAIL`` breaks the stream: the module may have sent part of the chunk, so the socket
fails with EIO instead of offering the bytes again.
"""
import errno
import logging
import re
from typing import Optional, Set, Tuple

from atsock.wire import atcmd
from atsock.core.connection import Connection, Kind
from atsock.constants import AF_INET6
from atsock.core.dialect import Exchange, FetchExchange, SendOutcome, SocketCommands
from atsock.errors import os_error
from atsock.wire.fields import parse_int, split_fields
from atsock.tls.module import handshake_error

from .codes import (BUSY, FRAME_MAX, MAX_LINKS, RECV_CHUNK, SEND_MAX, T_CIPCLOSE, T_CIPSEND, T_CIPSTART, T_QUERY,
                    T_SSL_START)
from .tls import EspTls

log = logging.getLogger("atsock.esp")

_RECVDATA_SENDER = re.compile(r'\+CIPRECVDATA:\d+,"([^"]*)",(\d+),?$')
SEND_FINALS = frozenset({"SEND OK", "SEND FAIL"}) | BUSY
SEND_NOT_FINAL = frozenset({"OK"})  # AT+CIPSEND answers OK before its prompt
ACTIVE_LIMIT = 1024 * 1024  # unread bytes one link may hold in active receive mode
Address = Tuple[str, int]


def link_id(conn_or_id) -> atcmd.Param:
    slot_id = conn_or_id.id if isinstance(conn_or_id, Connection) else conn_or_id
    return atcmd.number(slot_id, 0, MAX_LINKS - 1, "link id")


def port_param(port: int) -> atcmd.Param:
    return atcmd.number(port, 0, 65535, "port")


def client_params(conn: Connection, ip: str, port: int, kind: str = "TCP"):
    """``"TCP","<ip>",<port>[,<keepalive s>]`` of AT+CIPSTART (``"TCPv6"``/``"SSLv6"`` to an IPv6 peer)."""
    params = [atcmd.text(kind + "v6" if ":" in ip else kind), atcmd.text(ip, "address", 64), port_param(port)]
    if conn.keepalive:
        params.append(atcmd.number(conn.keepalive * 60, 1, 7200, "keepalive seconds"))
    return params


def open_error(response, link: str) -> OSError:
    """The error of an AT+CIPSTART that did not answer OK, from its detail lines (1.x)."""
    details = " ".join(line.text for line in response.lines)
    if "DNS Fail" in details:
        return os_error(errno.EHOSTUNREACH, "the module could not resolve the host")
    if "no ip" in details:
        return os_error(errno.ENETDOWN, "the module has no IP address (Wi-Fi not joined)")
    if "ALREADY" in details:
        return os_error(errno.EADDRINUSE, f"{link} is already in use on the module")
    return os_error(errno.ECONNREFUSED, f"the module could not connect ({details or response.final.text})")


class EspLinks(SocketCommands):
    max_links = MAX_LINKS
    abortable_open = False     # AT+CIPSTART runs the whole connect; nothing stops it half-way
    listener_takes_id = False  # one server per module, clients get link ids
    busy_retries = 9           # "busy p..." answers to a send before EBUSY (ten attempts in all)

    def __init__(self, dialect):
        timeouts = dialect.settings.timeouts
        self.t_open = timeouts.get("open", T_CIPSTART)
        self.t_send = timeouts.get("send", T_CIPSEND)
        self.t_read = timeouts.get("read", T_QUERY)
        self.t_close = timeouts.get("close", T_CIPCLOSE)
        self.d = dialect
        self.engine = dialect.engine
        self.send_chunk = self.max_datagram = dialect.settings.send_max or SEND_MAX  # bring-up asks the firmware
        self.recv_chunk = RECV_CHUNK  # bytes per AT+CIPRECVDATA (bring-up: more on 2.x)
        self._fetches = {}  # (id, UDP?, chunk) -> its FetchExchange, built once
        self.push_limit = ACTIVE_LIMIT if dialect.settings.receive == "active" else None
        self.server_open = False
        self.connect_seen: Set[int] = set()  # ids whose <id>,CONNECT came while their CIPSTART ran
        self.tls = EspTls(dialect)

    # --- opening --------------------------------------------------------------------------------
    async def _start(self, conn: Connection, *params: atcmd.Param, secure: bool = False) -> None:
        slot_id = conn.id
        self.connect_seen.discard(slot_id)  # kept after the answer: a CLOSED may follow its OK at once
        response = await self.d.command(atcmd.build("AT+CIPSTART", link_id(slot_id), *params),
                                        timeout=max(self.t_open, T_SSL_START) if secure else self.t_open, check=False)
        if response.final.ok:
            return
        error = open_error(response, f"link {slot_id}")
        if secure and error.errno == errno.ECONNREFUSED:
            details = " ".join(line.text for line in response.lines)
            raise handshake_error(f"the module could not open an SSL link ({details or response.final.text}): "
                                  "ESP-AT does not say whether the connection or the handshake failed")
        raise error

    async def open_client(self, conn: Connection, ip: str, port: int, local_port: int) -> None:
        if local_port:
            raise os_error(errno.EOPNOTSUPP, "ESP-AT cannot choose the local port of a TCP client")
        secure = conn.tls is not None
        if secure:
            await self.tls.prepare(conn)
        await self._start(conn, *client_params(conn, ip, port, "SSL" if secure else "TCP"), secure=secure)

    def check_tls(self, request) -> None:
        self.tls.check(request)

    async def open_udp(self, conn: Connection, port: int, peer: Optional[Address]) -> None:
        v6 = conn.family == AF_INET6
        ip, remote_port = peer or ("::" if v6 else "0.0.0.0", 0)
        try:
            await self._start(conn, atcmd.text("UDPv6" if v6 else "UDP"), atcmd.text(ip, "address", 64),
                              port_param(remote_port), port_param(port), atcmd.number(2, 0, 2))
        except OSError as exc:
            # nothing is refused in UDP: a bare ERROR to a UDP link means its local port (the module
            # says no more); EADDRINUSE lets a socket that picked the port itself try another
            if exc.errno != errno.ECONNREFUSED:
                raise
            raise os_error(errno.EADDRINUSE, f"the module could not open a UDP link on local port {port} "
                                             f"({exc.strerror})") from None

    async def release_failed_open(self, slot_id: int) -> None:
        """A failed CIPSTART reports ``<id>,CLOSED`` after its ERROR; CIPCLOSE's answer comes after
        that notice, so once it is in, no notice of the failed attempt can reach the next socket."""
        await self.close(slot_id, None)

    async def open_listener(self, conn: Connection, port: int, backlog: int) -> None:
        if conn.family == AF_INET6:  # AT+CIPSERVER's "TCPv6" type is for ESP32 builds (ipv6.md §2)
            raise os_error(errno.EOPNOTSUPP, "an ESP8266/ESP8285 AT server listens for IPv4 clients only")
        if self.server_open:
            raise os_error(errno.EMFILE, "the module runs one server at a time")
        self.server_open = True
        try:
            await self.d.command(atcmd.build("AT+CIPSERVERMAXCONN", atcmd.number(MAX_LINKS, 1, MAX_LINKS)),
                                 timeout=T_QUERY, check=False)
            response = await self.d.command(atcmd.build("AT+CIPSERVER", atcmd.number(1, 0, 1), port_param(port)),
                                            timeout=T_QUERY, check=False)
            if not response.final.ok:
                raise os_error(errno.EADDRINUSE, f"the module could not listen on port {port}")
            # never drop idle clients
            await self.d.command(atcmd.build("AT+CIPSTO", atcmd.number(0, 0, 7200)), timeout=T_QUERY, check=False)
        except BaseException:
            self.server_open = False
            raise
        self.d.server = conn

    async def close_listener(self) -> None:
        self.server_open = False
        self.d.server = None
        await self.d.command(atcmd.build("AT+CIPSERVER", atcmd.number(0, 0, 1)), timeout=T_QUERY, check=False)

    async def peer_address(self, slot_id: int) -> Optional[Address]:
        response = await self.d.command(atcmd.build("AT+CIPSTATUS"), timeout=T_QUERY,
                                        response_prefixes=("+CIPSTATUS:",))
        for value in response.values("+CIPSTATUS:"):
            fields = split_fields(value)
            if len(fields) >= 4 and parse_int(fields[0], 0, MAX_LINKS - 1) == slot_id:
                return fields[2], parse_int(fields[3], 0, 65535) or 0
        return None

    # --- data -----------------------------------------------------------------------------------
    def send_exchange(self, conn: Connection, chunk: bytes, dest) -> Exchange:
        limit = self.send_chunk
        if dest is not None and len(chunk) > limit:
            raise os_error(errno.EMSGSIZE, f"a datagram carries at most {limit} bytes")
        params = [link_id(conn), atcmd.number(len(chunk), 1, limit, "send length")]
        if dest is not None:
            params += [atcmd.text(dest[0], "address", 64), port_param(dest[1])]
        return Exchange(atcmd.build("AT+CIPSEND", *params), self.t_send, SEND_FINALS, SEND_NOT_FINAL)

    def send_outcome(self, conn: Connection, final: str) -> SendOutcome:
        if final == "SEND OK":
            return SendOutcome.SENT
        if final in BUSY:
            return SendOutcome.BUSY
        if final == "SEND FAIL" and conn.kind is Kind.TCP:
            raise os_error(errno.EIO, "the module failed to send: part of the stream may be lost")
        if final == "SEND FAIL":
            raise os_error(errno.EAGAIN, "the module could not send the datagram")
        raise os_error(errno.EPIPE, f"the module refused to send ({final}): the link is closed")

    async def fetch(self, conn: Connection, guard) -> Optional[Tuple[bytes, Optional[Address]]]:
        response = await self.d.command(self._read_command(conn.id), timeout=self.t_read,
                                        response_prefixes=("+CIPRECVDATA",), check=False, guard=guard)
        return self._read_answer(response, conn.kind is Kind.UDP)

    def fetch_exchange(self, conn: Connection) -> Optional[FetchExchange]:
        """``AT+CIPRECVDATA=<id>,<chunk>``, offered again while the module answers ``busy p...``."""
        key = (conn.id, conn.kind is Kind.UDP, self.recv_chunk)
        exchange = self._fetches.get(key)
        if exchange is None:
            if len(self._fetches) >= 4 * MAX_LINKS:
                self._fetches.clear()  # (chunk sizes of an earlier firmware)
            udp = key[1]
            exchange = self._fetches[key] = FetchExchange(
                self._read_command(conn.id), self.t_read, ("+CIPRECVDATA",),
                lambda response: self._read_answer(response, udp), retry=BUSY)
        return exchange

    def _read_command(self, slot_id: int) -> atcmd.CommandLine:
        return atcmd.build("AT+CIPRECVDATA", link_id(slot_id), atcmd.number(self.recv_chunk, 1, FRAME_MAX))

    @staticmethod
    def _read_answer(response, udp: bool) -> Optional[Tuple[bytes, Optional[Address]]]:
        line = response.first("+CIPRECVDATA")
        if line is not None and line.data is None:
            raise os_error(errno.EPROTO, f"+CIPRECVDATA without its data: {line.text[:60]!r}")
        if not response.final.ok or line is None or not line.data:
            return None  # ERROR: nothing buffered (documented for 2.x)
        if not udp:
            return line.data, None
        match = _RECVDATA_SENDER.match(line.text)
        return line.data, ((match.group(1), int(match.group(2))) if match else None)

    # --- closing --------------------------------------------------------------------------------
    async def close(self, slot_id: int, kind) -> None:
        await self.d.command(atcmd.build("AT+CIPCLOSE", link_id(slot_id)), timeout=self.t_close, check=False)
        self.tls.secure.discard(slot_id)
