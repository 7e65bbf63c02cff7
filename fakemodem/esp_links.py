"""The emulated ESP-AT module's links (ids 0-4), each a real host socket on this machine.

With AT+CIPMUX=1 every message carries the link id (``0,CONNECT``, ``+IPD,0,5:``); with
AT+CIPMUX=0 (single connection, the power-on mode) there is one link, numbered 0 inside, and
no id on the wire (``CONNECT``, ``+IPD,5:``, ``AT+CIPSEND=5``, ``AT+CIPCLOSE``).

Active receive pushes ``+IPD,<id>,<len>[,<ip>,<port>]:<data>`` as data arrives (output is held back
and the host socket paused while the UART is behind). Passive receive (AT+CIPRECVMODE=1) announces
``+IPD,<id>,<len>`` once per burst, hands data out with AT+CIPRECVDATA, stops reading the host
socket when the link's window is full, and withholds ``<id>,CLOSED`` until the buffer was read.
In passthrough (see esp_sending.py) the link's data goes to the host as it is. An ``"SSL"`` link
is a TCP link whose host socket speaks TLS (esp_ssl.py); passive receive covers it on 2.x only.

2.x "TCPv6"/"UDPv6" links (after AT+CIPV6=1 and a join) are host sockets on ``::1`` and take
IPv6 peers only; the server is IPv4 (ESP8266 builds take no ``"TCPv6"`` server type).
"""
import asyncio
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from . import ipv6, tlslink
from .atcommand import ATCommand
from .hostlink import RefuseConnection, TcpBridge, UdpBridge, pace_to_line

# the bytes a TLS 1.2 AES-GCM record adds to its plaintext (5 header, 8 nonce, 16 tag): what a 2.x
# module's +IPD of a passive SSL link counted beyond the data in a field log (581 announced, 552 read)
TLS_RECORD_OVERHEAD = 29


@dataclass
class Link:
    id: int
    kind: str            # "TCP", "UDP" or "SSL"
    remote: Tuple[str, int]
    v6: bool = False     # a "TCPv6"/"UDPv6" link
    tetype: int = 0      # 0: we connected out, 1: accepted by our server
    bridge: Union[TcpBridge, UdpBridge, None] = None
    armed: bool = True   # passive mode: the next arrival raises a +IPD notice
    close_pending: bool = False
    tls_overhead: int = 0  # ssl_count "encrypted": record bytes counted in +IPD that never come out


class Links:
    def __init__(self, module):
        self.m = module
        self.links = {}
        self.connecting = set()  # ids of links whose AT+CIPSTART is still connecting: not free
        self.server: Optional[asyncio.AbstractServer] = None
        self.server_port = 0
        self.max_links = module.profile.links
        self.max_conn = self.max_links
        self.had_link = False  # a link existed since the station got its address (CIPSTATUS 4)
        self.passthrough = None  # the link whose bytes the line carries (esp_sending.py)

    def any_open(self) -> bool:
        return bool(self.links) or self.server is not None

    def _tag(self, link_id: int, text: str) -> str:
        return f"{link_id},{text}" if self.m.mux else text

    def _ids(self, cmd: ATCommand):
        """(link id, index of the first argument after it) for the CIPMUX mode in force."""
        if self.m.mux:
            return cmd.number(0, 0, self.max_links - 1), 1
        return 0, 0

    # --- events from the host side ---------------------------------------------------------------
    def _passive_for(self, link: Link) -> bool:
        if not self.m.passive:
            return False
        if link.kind == "UDP":
            return self.m.profile.passive_udp  # 1.x: TCP only
        return link.kind == "TCP" or self.m.profile.passive_ssl

    def _on_data(self, link: Link) -> None:
        if self.links.get(link.id) is not link:
            return
        if self.passthrough is link:
            self._pass_through(link)
            return
        if self._passive_for(link):
            if link.kind == "SSL" and self.m.ssl_count == "encrypted":
                link.tls_overhead += TLS_RECORD_OVERHEAD  # (one record per arrival, as near as we can see)
            if link.armed:
                link.armed = False
                queued = self._buffered(link)
                notice = f"+IPD,{link.id},{queued}" if self.m.mux else f"+IPD,{queued}"
                self.m.serial.write(b"\r\n" + notice.encode() + b"\r\n")
            return
        self._push(link)

    def _buffered(self, link: Link) -> int:
        """What a passive +IPD notice and AT+CIPRECVLEN? count for the link (``ssl_count``)."""
        if link.kind == "UDP":
            return link.bridge.queued
        return len(link.bridge.rx) + link.tls_overhead

    def _frame_head(self, link: Link, length: int, sender: Tuple[str, int]) -> bytes:
        head = f"+IPD,{link.id},{length}" if self.m.mux else f"+IPD,{length}"
        if self.m.dinfo:
            ip = f'"{sender[0]}"' if self.m.profile.quoted_ip else sender[0]
            head += f",{ip},{sender[1]}"
        return (b"\r\n" if self.m.ipd_crlf else b"") + head.encode() + b":"

    def _push(self, link: Link) -> None:
        bridge = link.bridge
        if link.kind == "UDP":
            while bridge.datagrams:
                data, sender = bridge.read()
                self.m.serial.write_frame(self._frame_head(link, len(data), sender), data)
            return
        frame = self.m.profile.frame_max
        while bridge.rx:
            data = bridge.read(frame)
            announced = len(data)
            if self.m.corrupt is not None:
                how, self.m.corrupt = self.m.corrupt, None
                announced = 99999999 if how == "absurd" else 2 * len(data)
            self.m.serial.write_frame(self._frame_head(link, announced, link.remote), data)
        pace_to_line(bridge, self.m.serial)

    def _pass_through(self, link: Link) -> None:
        bridge = link.bridge
        while bridge.datagrams if link.kind == "UDP" else bridge.rx:
            data = bridge.read()[0] if link.kind == "UDP" else bridge.read(65536)
            self.m.serial.write_frame(b"", data)
        pace_to_line(bridge, self.m.serial)

    def _on_closed(self, link: Link) -> None:
        if self.links.get(link.id) is not link:
            return
        if self.passthrough is link:
            self.m.sending.connection_lost(link)
            if self.m.passthrough_close == "silent":
                self.links.pop(link.id, None)
                link.bridge.close()
                return
        if self._passive_for(link) and link.bridge.rx:
            link.close_pending = True  # CLOSED waits until the host has read everything
            return
        self._report_closed(link)

    def _report_closed(self, link: Link) -> None:
        self.links.pop(link.id, None)
        link.bridge.close()
        self.m.message(self._tag(link.id, "CLOSED"))

    def _new_tcp_bridge(self, link: Link, keepalive: int = 0) -> TcpBridge:
        bridge = TcpBridge(lambda: self._on_data(link), lambda: self._on_closed(link), rx_limit=self.m.rx_window)
        if keepalive:
            bridge.keepalive = (keepalive, min(keepalive, 75), 3)
        return bridge

    # --- AT+CIPSTART ------------------------------------------------------------------------------
    async def cipstart(self, cmd: ATCommand) -> None:
        m = self.m
        if m.mux and cmd.int_arg(0) is not None and not 0 <= cmd.int_arg(0) < self.max_links:
            m.fail_detail("ID ERROR")
            return
        link_id, at = self._ids(cmd)
        await self._start(cmd, link_id, at)

    async def cipstartex(self, cmd: ATCommand) -> None:
        """2.x: AT+CIPSTART's arguments without an id; the module takes the lowest free one."""
        free = self._free_ids()
        if not self.m.mux or not free:
            self.m.final("ERROR")
            return
        await self._start(cmd, free[0], 0)

    async def _start(self, cmd: ATCommand, link_id: int, at: int) -> None:
        m = self.m
        kind, host, port = cmd.arg(at), cmd.arg(at + 1), cmd.number(at + 2, 0, 65535)
        v6 = m.major >= 2 and kind in ("TCPv6", "UDPv6")
        kind = kind[:3] if v6 else kind
        if kind not in ("TCP", "UDP", "SSL"):
            m.fail_detail("Link type ERROR")
            return
        if not host or len(cmd.args) > at + 5 or (kind != "UDP" and len(cmd.args) > at + 4):
            raise ValueError("CIPSTART arguments")
        if kind == "UDP":
            local_port, udp_mode = cmd.number(at + 3, 0, 65535, 0), cmd.number(at + 4, 0, 2, 0)
        else:
            keepalive = cmd.number(at + 3, 0, 7200, 0)
        if link_id in self.links:
            m.info("ALREADY CONNECTED")
            m.final("ERROR")
            return
        if m.joined is None:
            m.fail_detail("no ip")
            return
        if v6 and not m.ipv6_addresses:  # AT+CIPV6=1 was not in force at the join
            m.final("ERROR")
            return
        addresses = [a for a in m.network.resolve(host) if ipv6.version(a) == (6 if v6 else 4)]
        if not addresses:
            m.fail_detail("DNS Fail")
            return
        if kind == "SSL" and m.major < 2 and any(other.kind == "SSL" for other in self.links.values()):
            m.fail_detail("ssl reach max")  # NonOS AT holds one SSL link at a time
            return
        link = Link(link_id, kind, (addresses[0], port), v6=v6)
        if kind == "UDP":
            await self._start_udp(link, local_port, udp_mode)
            return
        await self._start_tcp(link, keepalive)

    async def _start_tcp(self, link: Link, keepalive: int) -> None:
        """A TCP or SSL link: CONNECT and OK once connected (and, for SSL, shaken hands)."""
        m = self.m
        ip, port = link.remote
        if not m.network.reachable(ip):
            await asyncio.sleep(m.connect_timeout)  # SYNs into the void
            self._connect_failed(link)
            return
        bridge = self._new_tcp_bridge(link, keepalive)
        self.connecting.add(link.id)  # (a client of our own server must not be given this id)
        try:
            if link.kind == "SSL":
                await tlslink.connect(bridge, ip, port, m.ssl.settings(link.id), m.connect_timeout)
            else:
                await asyncio.wait_for(asyncio.get_running_loop().create_connection(lambda: bridge, ip, port),
                                       m.connect_timeout)
        except (OSError, asyncio.TimeoutError, tlslink.TlsFailure):
            self._connect_failed(link)
            return
        finally:
            self.connecting.discard(link.id)
        link.bridge = bridge
        self._add(link)
        m.message(self._tag(link.id, "CONNECT"))
        m.final("OK")
        self._replay(link)

    def _add(self, link: Link) -> None:
        self.links[link.id] = link
        self.had_link = True

    def _replay(self, link: Link) -> None:
        """Data or a close that came before the link was announced is reported now, in order."""
        if link.bridge.rx:
            self._on_data(link)
        if link.bridge.closed:
            self._on_closed(link)

    def _connect_failed(self, link: Link) -> None:
        self.m.final("ERROR")
        failure = "CONNECT FAIL" if self.m.major == 1 and self.m.connect_failure == "CONNECT FAIL" else "CLOSED"
        self.m.message(self._tag(link.id, failure))

    async def _start_udp(self, link: Link, local_port: int, udp_mode: int) -> None:
        try:
            _, link.bridge = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: UdpBridge(lambda: self._on_data(link), self.m.rx_window),
                local_addr=(ipv6.LOOPBACK[6 if link.v6 else 4], local_port))
        except OSError:
            self.m.final("ERROR")
            return
        self._add(link)
        if self.m.udp_start_report:  # ESP-AT 2.1 reports the port it bound and the mode it took
            self.m.serial.write(f"local port:{link.bridge.local_port}\r\n\r\nchange type:{udp_mode}\r\n\r\n".encode())
        self.m.message(self._tag(link.id, "CONNECT"))
        self.m.final("OK")
        if link.bridge.datagrams:
            self._on_data(link)

    # --- passive receive --------------------------------------------------------------------------
    async def ciprecvdata(self, cmd: ATCommand) -> None:
        m = self.m
        link_id, at = self._ids(cmd)
        link = self.links.get(link_id)
        limit = cmd.number(at, 1, 2 ** 31 - 1)
        if link is None or not self._passive_for(link) or limit < 1:
            m.final("ERROR")
            return
        bridge = link.bridge
        if link.kind == "UDP":
            if not bridge.datagrams:
                link.armed = True
                m.final("ERROR")
                return
            data, sender = bridge.read()
            data = data[:limit]
        else:
            data, sender = bridge.read(limit), link.remote
            if not data:
                link.armed = True
                m.final("ERROR")
                return
        empty = not (bridge.datagrams if link.kind == "UDP" else bridge.rx)
        if empty:
            link.tls_overhead = 0
        if m.recvdata_to_read:  # ESP-AT 2.1 says how much it is about to hand over
            m.serial.write(b"to read %d bytes\r\n" % len(data))
        if m.corrupt is not None:
            how, m.corrupt = m.corrupt, None
            head = b"+CIPRECVDATA,%d:" if m.major == 1 else b"+CIPRECVDATA:%d,"
            if how == "absurd":
                m.serial.write_frame(b"\r\n" + head % 99999999, data, b"\r\nOK\r\n")
            else:
                m.serial.write_frame(b"\r\n" + head % (2 * len(data)), data)  # and nothing more
            return
        if m.major == 1:
            m.serial.write_frame(b"\r\n+CIPRECVDATA,%d:" % len(data), data, b"\r\nOK\r\n")
        else:
            where = b'"%s",%d,' % (sender[0].encode(), sender[1]) if m.dinfo else b""
            crlf = b"\r\n" if m.recvdata_crlf else b""
            m.serial.write_frame(crlf + b"+CIPRECVDATA:%d," % len(data) + where, data, b"\r\nOK\r\n")
        if empty or m.passive_rearm == "read":
            link.armed = True
        if empty and link.close_pending:
            self._report_closed(link)

    async def ciprecvlen(self, cmd: ATCommand) -> None:
        fields = []
        for link_id in range(self.max_links):
            link = self.links.get(link_id)
            if link is None:
                fields.append(self.m.recvlen_unused)
            else:
                fields.append(str(self._buffered(link)))
        self.m.reply("+CIPRECVLEN:" + ",".join(fields))

    # --- closing ----------------------------------------------------------------------------------
    async def cipclose(self, cmd: ATCommand) -> None:
        """AT+CIPCLOSE=<id> (5: all) with CIPMUX=1; AT+CIPCLOSE alone in single-connection mode."""
        m = self.m
        if (cmd.kind == "write") != bool(m.mux) or cmd.kind not in ("write", "exec"):
            raise ValueError("AT+CIPCLOSE form does not match the CIPMUX mode")
        link_id = cmd.number(0, 0, self.max_links) if cmd.kind == "write" else 0
        targets = list(self.links.values()) if link_id == self.max_links else [self.links.get(link_id)]
        if None in targets:
            m.fail_detail("UNLINK")
            return
        for link in targets:
            self.links.pop(link.id, None)
            link.bridge.close()
            if m.cipclose_reports_closed:
                m.message(self._tag(link.id, "CLOSED"))
        m.final("OK")

    def drop_all(self, report: bool = False) -> None:
        if self.passthrough is not None:
            self.m.sending.connection_lost(self.passthrough)
        for link in list(self.links.values()):
            self.links.pop(link.id, None)
            if link.bridge is not None:
                link.bridge.close()
            if report:
                self.m.message(self._tag(link.id, "CLOSED"))
        if self.server is not None:
            self.server.close()
            self.server = None

    # --- server -----------------------------------------------------------------------------------
    async def cipservermaxconn(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f"+CIPSERVERMAXCONN:{self.max_conn}")
            return
        self.max_conn = cmd.number(0, 1, self.max_links)
        self.m.final("OK")

    async def cipserver(self, cmd: ATCommand) -> None:
        m = self.m
        if cmd.kind == "read":
            m.reply(f'+CIPSERVER:1,{self.server_port},"TCP"' if self.server else "+CIPSERVER:0")
            return
        if cmd.number(0, 0, 1) == 0:
            if self.server is not None:
                self.server.close()
                self.server = None
            m.final("OK")
            return
        if not m.mux or self.server is not None:
            m.final("ERROR")
            return
        port = cmd.number(1, 1, 65535, 333)
        if len(cmd.args) > 2:  # "<type>" and "<CA enable>" are not for ESP8266 builds (ipv6.md §2)
            m.final("ERROR")
            return
        try:
            self.server = await asyncio.get_running_loop().create_server(self._incoming, "127.0.0.1", port)
        except OSError:
            m.final("ERROR")
            return
        self.server_port = port
        m.final("OK")

    def _free_ids(self):
        return [i for i in range(self.max_links) if i not in self.links and i not in self.connecting]

    def _incoming(self):
        free = self._free_ids()
        accepted = sum(1 for link in self.links.values() if link.tetype == 1)
        if not free or accepted >= self.max_conn:
            return RefuseConnection()
        link = Link(free[0], "TCP", ("", 0), tetype=1)
        link.bridge = self._new_tcp_bridge(link)
        self._add(link)

        def announce():
            link.remote = link.bridge.peer
            self.m.message(self._tag(link.id, "CONNECT"))

        link.bridge.on_made = announce
        return link.bridge

    # --- status -----------------------------------------------------------------------------------
    def _status_lines(self, prefix: str):
        for link in sorted(self.links.values(), key=lambda l: l.id):
            local = link.bridge.local_port if link.bridge else 0
            kind = link.kind + ("v6" if link.v6 else "")
            yield f'{prefix}{link.id},"{kind}","{link.remote[0]}",{link.remote[1]},{local},{link.tetype}'

    def status(self) -> int:
        """``STATUS:<n>`` of AT+CIPSTATUS. 1.x: 2 got IP, 3 connected, 4 links closed, 5 no AP.
        2.x redefines what comes before the AP: 0 Wi-Fi off, 1 not yet connecting, 5 connecting or
        lost. ``cipstatus_style`` "1.x" gives the 1.x values on every generation."""
        m = self.m
        if m.joined is not None:
            return 3 if self.links else (4 if self.had_link else 2)
        if m.major == 1 or m.cipstatus_style == "1.x":
            return 5
        if m.wifi_mode == 0:
            return 0
        return 1 if m.wifi_state == "idle" else 5

    async def cipstatus(self, cmd: ATCommand) -> None:
        self.m.reply(f"STATUS:{self.status()}", *self._status_lines("+CIPSTATUS:"))

    async def cipstate(self, cmd: ATCommand) -> None:
        if not self.m.profile.state_queries:
            self.m.final("ERROR")  # 2.x only
            return
        self.m.reply(*self._status_lines("+CIPSTATE:"))

