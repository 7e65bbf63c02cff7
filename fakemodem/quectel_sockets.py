"""The emulated Quectel module's socket services, each backed by a real host socket on 127.0.0.1:
their life from AT+QIOPEN to AT+QICLOSE, their state, and what the host side tells them.

======================  ==============================================================
"TCP"                   a host TCP connection (optionally from a fixed local port)
"UDP"                   a host UDP socket with a fixed peer
"TCP LISTENER"          a host listening socket on 127.0.0.1:<local_port>; each client becomes a
                        "TCP INCOMING" socket on a free connectID, announced with
                        ``+QIURC: "incoming",...`` (``"incoming full"`` when none is free)
"UDP SERVICE"           a host UDP socket bound to 127.0.0.1:<local_port>, any peer
======================  ==============================================================

IPv6 (ipv6.md §1.3-1.5): a listener or UDP SERVICE opened with an IPv6 local address (mbed sends
``"0:0:0:0:0:0:0:1"``) is a host socket on ``::1`` and serves IPv6 peers only; a client to an IPv6
literal (compressed or written out, either case) connects from ``::1``. A peer of a family the
context does not carry fails with ``family_mismatch_error``; a host name takes the first address
of its ``hosts`` entry that the context can use.

Access modes (quectel-tcpip.md §4, §9, §12): 0 buffer (an edge-triggered ``+QIURC: "recv",<id>``,
data read with AT+QIRD), 1 direct push (``+QIURC: "recv",<id>,<len>`` followed by the data), 2
transparent (``CONNECT``, then the line carries the socket's bytes; see quectel_data.py).
"""
import asyncio
from dataclasses import dataclass
from typing import Optional, Union

from . import ipv6
from .atcommand import ATCommand
from .hostlink import RefuseConnection, TcpBridge, UdpBridge
from .quectel_data import DataPaths

OPENING, CONNECTED, LISTENING, CLOSING = 1, 2, 3, 4
SERVICES = ("TCP", "UDP", "TCP LISTENER", "UDP SERVICE")
BUFFER, PUSH, TRANSPARENT = 0, 1, 2


@dataclass
class Socket:
    id: int
    ctx: int
    service: str
    remote_ip: str
    remote_port: int
    local_port: int = 0
    state: int = OPENING
    access_mode: int = BUFFER
    bridge: Union[TcpBridge, UdpBridge, None] = None
    server: Optional[asyncio.AbstractServer] = None
    server_id: int = 0
    opener: Optional[asyncio.Task] = None
    armed: bool = True  # "recv" URC edge trigger: re-armed by a read that finds nothing
    version: int = 4    # IP version of the host socket behind it
    carrier: object = None  # the port (UART or multiplexer channel) whose transparent mode carries it

    @property
    def datagrams(self) -> bool:
        return self.service in ("UDP", "UDP SERVICE")

    @property
    def unread(self) -> int:
        if self.bridge is None:
            return 0
        return self.bridge.queued if self.datagrams else len(self.bridge.rx)


class SocketServices:
    def __init__(self, module):
        self.m = module
        self.max_id = module.profile.connect_ids - 1
        self.sockets = {}
        self.keepalive = None  # (idle s, interval s, probes) from AT+QICFG="tcp/keepalive"
        self.data = DataPaths(self)

    # --- opening --------------------------------------------------------------------------------
    async def qiopen(self, cmd: ATCommand) -> None:
        m = self.m
        try:
            ctx_id, sock_id, service = cmd.number(0, 1, m.profile.contexts), cmd.number(1, 0, self.max_id), cmd.arg(2)
            address, remote_port, local_port = cmd.arg(3), cmd.number(4, 0, 65535), cmd.number(5, 0, 65535, 0)
            access_mode = cmd.number(6, 0, 2, BUFFER)
        except ValueError:
            m.ip_error(552)
            return
        if service not in SERVICES or not address or len(cmd.args) > 7:
            m.ip_error(552)
            return
        if service in ("TCP LISTENER", "UDP SERVICE") and not local_port:
            m.ip_error(552)
            return
        if access_mode == TRANSPARENT and service not in ("TCP", "UDP"):
            m.ip_error(555)  # transparent mode is for one client connection
            return
        if not m.context_active(ctx_id):
            m.ip_error(561)
            return
        if service in ("TCP LISTENER", "UDP SERVICE") and ipv6.version(address) not in (None, *m.families(ctx_id)):
            m.ip_error(m.family_mismatch_error)
            return
        if access_mode == TRANSPARENT:
            await self._open_transparent(Socket(sock_id, ctx_id, service, address, remote_port, local_port,
                                                access_mode=access_mode))
            return
        m.final("OK")
        if sock_id in self.sockets:
            m.urc(f"+QIOPEN: {sock_id},563")
            return
        sock = Socket(sock_id, ctx_id, service, address, remote_port, local_port, access_mode=access_mode)
        self.sockets[sock_id] = sock
        sock.opener = asyncio.ensure_future(self._open(sock))

    async def _open(self, sock: Socket) -> None:
        """Buffer and direct-push modes: OK came at once; the outcome is a +QIOPEN URC."""
        code = await self._establish(sock)
        if code:
            self._forget(sock, code)
            self.m.urc(f"+QIOPEN: {sock.id},{code}")
            return
        self.m.urc(f"+QIOPEN: {sock.id},0")
        self._catch_up(sock)

    async def _open_transparent(self, sock: Socket) -> None:
        """Access mode 2: the command lasts until the connection is made; CONNECT or ERROR."""
        if sock.id in self.sockets:
            self.m.ip_error(563)
            return
        self.sockets[sock.id] = sock
        code = await self._establish(sock)
        if code:
            self._forget(sock, code)
            self.m.ip_error(code)
            return
        self.data.enter_transparent(sock)

    async def _establish(self, sock: Socket) -> int:
        """Open the host socket behind ``sock``: 0, or the error code of quectel-tcpip.md §10."""
        loop = asyncio.get_running_loop()
        try:
            if sock.service in ("TCP LISTENER", "UDP SERVICE"):
                sock.version = ipv6.version(sock.remote_ip) or 4  # the local address given to QIOPEN
                local = (ipv6.LOOPBACK[sock.version], sock.local_port)
            if sock.service == "TCP LISTENER":
                sock.server = await loop.create_server(lambda: self._incoming(sock), *local)
                sock.state = LISTENING
            elif sock.service == "UDP SERVICE":
                _, sock.bridge = await loop.create_datagram_endpoint(
                    lambda: UdpBridge(lambda: self.on_data(sock), self.m.rx_buffer), local_addr=local)
                sock.state = CONNECTED
            else:
                code = await self._connect(sock)
                if code:
                    return code
        except OSError:
            return 556 if sock.local_port else 566
        sock.opener = None
        return 0

    async def _connect(self, sock: Socket) -> int:
        m = self.m
        addresses = m.network.resolve(sock.remote_ip)
        if not addresses:
            await asyncio.sleep(m.dns_delay)
            return 565
        usable = [a for a in addresses if ipv6.version(a) in m.families(sock.ctx)]
        if not usable:
            return m.family_mismatch_error
        sock.remote_ip = usable[0]
        sock.version = ipv6.version(sock.remote_ip)
        local = (ipv6.LOOPBACK[sock.version], sock.local_port) if sock.local_port else None
        if not m.network.reachable(sock.remote_ip):
            await asyncio.sleep(m.open_timeout)  # SYNs into the void
            return 569
        loop = asyncio.get_running_loop()
        if sock.service == "UDP":
            _, sock.bridge = await loop.create_datagram_endpoint(
                lambda: UdpBridge(lambda: self.on_data(sock), m.rx_buffer),
                local_addr=local, remote_addr=(sock.remote_ip, sock.remote_port))
        else:
            bridge = self._tcp_bridge(sock)
            try:
                await asyncio.wait_for(loop.create_connection(lambda: bridge, sock.remote_ip, sock.remote_port,
                                                              local_addr=local), m.open_timeout)
            except asyncio.TimeoutError:
                return 569
            sock.bridge = bridge
        sock.state = CONNECTED
        return 0

    def _catch_up(self, sock: Socket) -> None:
        """Data or a close that came before the open was announced, reported now, in order."""
        if sock.unread:
            self.on_data(sock)
        if isinstance(sock.bridge, TcpBridge) and sock.bridge.closed:
            self.on_closed(sock)

    def _forget(self, sock: Socket, code: int) -> None:
        if self.sockets.get(sock.id) is sock:
            del self.sockets[sock.id]
        self.m.last_error = code

    def _tcp_bridge(self, sock: Socket) -> TcpBridge:
        bridge = TcpBridge(lambda: self.on_data(sock), lambda: self.on_closed(sock),
                           rx_limit=self.m.rx_buffer, tx_limit=self.m.tx_buffer)
        bridge.keepalive = self.keepalive
        return bridge

    def _incoming(self, listener: Socket):
        """A client reached a listener: give it a free connectID, or turn it away."""
        free = [i for i in range(self.max_id + 1) if i not in self.sockets]
        if not free or listener.state != LISTENING:
            self.m.urc('+QIURC: "incoming full"')
            return RefuseConnection()
        mode = listener.access_mode if self.m.incoming_access_mode == "listener" else BUFFER
        sock = Socket(free[0], listener.ctx, "TCP INCOMING", "", 0, listener.local_port, CONNECTED,
                      access_mode=mode, server_id=listener.id, version=listener.version)
        self.sockets[sock.id] = sock
        sock.bridge = self._tcp_bridge(sock)

        def announce():
            sock.remote_ip, sock.remote_port = sock.bridge.peer
            self.m.urc(f'+QIURC: "incoming",{sock.id},{listener.id},"{self.m.shown(sock.remote_ip)}",'
                       f'{sock.remote_port}')
            self._catch_up(sock)

        sock.bridge.on_made = announce
        return sock.bridge

    # --- events from the host side ---------------------------------------------------------------
    def on_data(self, sock: Socket) -> None:
        if sock.opener is not None or self.sockets.get(sock.id) is not sock or sock.bridge is None:
            return  # not announced yet: _catch_up reports it
        if sock.access_mode == PUSH:
            self.data.push(sock)
        elif sock.access_mode == TRANSPARENT:
            self.data.pass_through(sock)
        elif sock.armed:
            sock.armed = False
            length = f",{sock.unread}" if self.m.recvind else ""
            self.m.urc(f'+QIURC: "recv",{sock.id}{length}')

    def on_closed(self, sock: Socket) -> None:
        if sock.opener is not None or self.sockets.get(sock.id) is not sock:
            return
        sock.state = CLOSING
        if sock.carrier is not None:
            self.data.connection_lost(sock)
        else:
            self.m.urc(f'+QIURC: "closed",{sock.id}')

    # --- closing and state ------------------------------------------------------------------------
    def drop(self, sock: Socket) -> None:
        if sock.carrier is not None:
            self.data.connection_lost(sock)
        if sock.opener is not None:
            sock.opener.cancel()
        if sock.bridge is not None:
            sock.bridge.close()
        if sock.server is not None:
            sock.server.close()
        self.sockets.pop(sock.id, None)

    def drop_context(self, ctx_id: int) -> None:
        for sock in [s for s in self.sockets.values() if s.ctx == ctx_id]:
            self.drop(sock)

    async def qiclose(self, cmd: ATCommand) -> None:
        sock = self.sockets.get(cmd.number(0, 0, self.max_id))
        cmd.number(1, 0, 65535, 10)  # seconds to wait for the peer's FIN; the host socket closes at once
        if sock is None:
            self.m.final(self.m.qiclose_unknown)
            return
        self.drop(sock)
        self.m.final("OK")
        if self.m.settings.get("close/mode") == (1,):  # EC200U: completion reported as a URC too
            self.m.urc(f'+QIURC: "closed",{sock.id}')

    def state_line(self, sock: Socket) -> str:
        state = self.m.connected_state if sock.state == CONNECTED and sock.service == "TCP" else sock.state
        local_port = sock.bridge.local_port if sock.bridge and not sock.local_port else sock.local_port
        if sock.service in ("TCP LISTENER", "UDP SERVICE"):
            address = self.m.local_ipv6 if sock.version == 6 else self.m.local_ip
        else:
            address = sock.remote_ip
        address = self.m.shown(address)
        server_id = sock.server_id if sock.service == "TCP INCOMING" else (sock.id if sock.server else 0)
        return (f'+QISTATE: {sock.id},"{sock.service}","{address}",{sock.remote_port},{local_port},'
                f'{state},{sock.ctx},{server_id},{sock.access_mode},"uart1"')

    async def qistate(self, cmd: ATCommand) -> None:
        sockets = sorted(self.sockets.values(), key=lambda s: s.id)
        if cmd.kind == "write":
            mode = cmd.number(0, 0, 1)
            value = cmd.number(1, 0, self.max_id) if mode == 1 else cmd.number(1, 1, self.m.profile.contexts)
            sockets = [s for s in sockets if (s.id if mode == 1 else s.ctx) == value]
        self.m.reply(*[self.state_line(s) for s in sockets])

    async def qiswtmd(self, cmd: ATCommand) -> None:
        """AT+QISWTMD=<id>,<mode>: buffer and direct push answer OK, transparent CONNECT."""
        sock = self.sockets.get(cmd.number(0, 0, self.max_id))
        mode = cmd.number(1, 0, 2)
        if sock is None or sock.state not in (CONNECTED, CLOSING) or sock.service == "TCP LISTENER":
            self.m.ip_error(567 if sock is None else 552)
            return
        if mode == TRANSPARENT:
            if sock.state != CONNECTED or sock.service == "UDP SERVICE":
                self.m.ip_error(552 if sock.state == CONNECTED else 567)
                return
            self.data.enter_transparent(sock)
            return
        sock.access_mode = mode
        sock.armed = True
        self.m.final("OK")
        if sock.unread:  # what waits in the buffer is announced (or pushed) in the new mode
            self.on_data(sock)

    async def qicfg_keepalive(self, cmd: ATCommand) -> None:
        """``<enable>[,<idle>,<interval>,<probes>]``; the idle time's unit and range are the
        profile's (minutes 1-120 on BG95, seconds 1-1800 on EC200U)."""
        low, high, unit = self.m.profile.keepalive_idle
        if len(cmd.args) == 1:
            enabled, idle, interval, probes = (1,) + self.keepalive if self.keepalive else (0, 0, 0, 0)
            self.m.reply(f'+QICFG: "tcp/keepalive",{enabled},{idle // unit},{interval},{probes}')
            return
        try:
            enable = cmd.number(1, 0, 1)
            idle = cmd.number(2, low, high, min(2 * 60 // unit, high))
            interval, probes = cmd.number(3, 25, 100, 25), cmd.number(4, 3, 10, 3)
        except ValueError:
            self.m.ip_error(552)
            return
        self.keepalive = (idle * unit, interval, probes) if enable else None
        self.m.final("OK")

    def drop_all(self) -> None:
        for sock in list(self.sockets.values()):
            self.drop(sock)

    async def shut_down(self) -> None:
        self.drop_all()
