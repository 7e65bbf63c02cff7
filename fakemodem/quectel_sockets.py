"""The emulated Quectel module's socket services, each backed by a real host socket on 127.0.0.1.

======================  ==============================================================
"TCP"                   a host TCP connection (optionally from a fixed local port)
"UDP"                   a host UDP socket with a fixed peer
"TCP LISTENER"          a host listening socket on 127.0.0.1:<local_port>; each client becomes a
                        "TCP INCOMING" socket on a free connectID, announced with
                        ``+QIURC: "incoming",...`` (``"incoming full"`` when none is free)
"UDP SERVICE"           a host UDP socket bound to 127.0.0.1:<local_port>, any peer
======================  ==============================================================

Buffer access mode only: data is announced with an edge-triggered ``+QIURC: "recv",<id>`` and
read with AT+QIRD; the notice is re-armed by a read that finds the buffer empty.
"""
import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Optional, Union

from .atcommand import ATCommand
from .hostlink import RefuseConnection, TcpBridge, UdpBridge, hand_over

OPENING, CONNECTED, LISTENING, CLOSING = 1, 2, 3, 4
SERVICES = ("TCP", "UDP", "TCP LISTENER", "UDP SERVICE")


@dataclass
class Socket:
    id: int
    ctx: int
    service: str
    remote_ip: str
    remote_port: int
    local_port: int = 0
    state: int = OPENING
    bridge: Union[TcpBridge, UdpBridge, None] = None
    server: Optional[asyncio.AbstractServer] = None
    server_id: int = 0
    opener: Optional[asyncio.Task] = None
    armed: bool = True  # "recv" URC edge trigger: re-armed by a read that finds nothing

    @property
    def datagrams(self) -> bool:
        return self.service in ("UDP", "UDP SERVICE")


class SocketServices:
    def __init__(self, module):
        self.m = module
        self.max_id = module.profile.connect_ids - 1
        self.sockets = {}
        self.keepalive = None  # (idle s, interval s, probes) from AT+QICFG="tcp/keepalive"

    # --- opening --------------------------------------------------------------------------------
    async def qiopen(self, cmd: ATCommand) -> None:
        m = self.m
        try:
            ctx_id, sock_id, service = cmd.number(0, 1, m.profile.contexts), cmd.number(1, 0, self.max_id), cmd.arg(2)
            address, remote_port, local_port = cmd.arg(3), cmd.number(4, 0, 65535), cmd.number(5, 0, 65535, 0)
            access_mode = cmd.number(6, 0, 2, 0)
        except ValueError:
            m.ip_error(552)
            return
        if service not in SERVICES or not address or len(cmd.args) > 7:
            m.ip_error(552)
            return
        if service in ("TCP LISTENER", "UDP SERVICE") and not local_port:
            m.ip_error(552)
            return
        if access_mode != 0:
            m.ip_error(555)  # the emulator models buffer access mode only
            return
        if not m.context_active(ctx_id):
            m.ip_error(561)
            return
        m.final("OK")
        if sock_id in self.sockets:
            m.urc(f"+QIOPEN: {sock_id},563")
            return
        sock = Socket(sock_id, ctx_id, service, address, remote_port, local_port)
        self.sockets[sock_id] = sock
        sock.opener = asyncio.ensure_future(self._open(sock))

    async def _open(self, sock: Socket) -> None:
        loop = asyncio.get_running_loop()
        local = ("127.0.0.1", sock.local_port) if sock.local_port else None
        try:
            if sock.service == "TCP LISTENER":
                sock.server = await loop.create_server(lambda: self._incoming(sock), "127.0.0.1", sock.local_port)
                sock.state = LISTENING
            elif sock.service == "UDP SERVICE":
                _, sock.bridge = await loop.create_datagram_endpoint(
                    lambda: UdpBridge(lambda: self._on_data(sock), self.m.rx_buffer), local_addr=local)
                sock.state = CONNECTED
            else:
                await self._open_client(sock, local)
                if sock.state != CONNECTED:
                    return
        except OSError:
            self._open_failed(sock, 556 if local else 566)
            return
        sock.opener = None
        self.m.urc(f"+QIOPEN: {sock.id},0")
        bridge = sock.bridge  # data or a close that came before the open was announced, now in order
        if bridge is not None and (bridge.datagrams if sock.datagrams else bridge.rx):
            self._on_data(sock)
        if isinstance(bridge, TcpBridge) and bridge.closed:
            self._on_closed(sock)

    async def _open_client(self, sock: Socket, local) -> None:
        m = self.m
        addresses = m.network.resolve(sock.remote_ip)
        if not addresses:
            await asyncio.sleep(m.dns_delay)
            self._open_failed(sock, 565)
            return
        sock.remote_ip = addresses[0]
        if not m.network.reachable(sock.remote_ip):
            await asyncio.sleep(m.open_timeout)  # SYNs into the void
            self._open_failed(sock, 569)
            return
        loop = asyncio.get_running_loop()
        if sock.service == "UDP":
            _, sock.bridge = await loop.create_datagram_endpoint(
                lambda: UdpBridge(lambda: self._on_data(sock), m.rx_buffer),
                local_addr=local, remote_addr=(sock.remote_ip, sock.remote_port))
        else:
            bridge = self._tcp_bridge(sock)
            try:
                await asyncio.wait_for(loop.create_connection(lambda: bridge, sock.remote_ip, sock.remote_port,
                                                              local_addr=local), m.open_timeout)
            except asyncio.TimeoutError:
                self._open_failed(sock, 569)
                return
            sock.bridge = bridge
        sock.state = CONNECTED

    def _tcp_bridge(self, sock: Socket) -> TcpBridge:
        bridge = TcpBridge(lambda: self._on_data(sock), lambda: self._on_closed(sock),
                           rx_limit=self.m.rx_buffer, tx_limit=self.m.tx_buffer)
        bridge.keepalive = self.keepalive
        return bridge

    def _incoming(self, listener: Socket):
        """A client reached a listener: give it a free connectID, or turn it away."""
        free = [i for i in range(self.max_id + 1) if i not in self.sockets]
        if not free or listener.state != LISTENING:
            self.m.urc('+QIURC: "incoming full"')
            return RefuseConnection()
        sock = Socket(free[0], listener.ctx, "TCP INCOMING", "", 0, listener.local_port, CONNECTED,
                      server_id=listener.id)
        self.sockets[sock.id] = sock
        sock.bridge = self._tcp_bridge(sock)

        def announce():
            sock.remote_ip, sock.remote_port = sock.bridge.peer
            self.m.urc(f'+QIURC: "incoming",{sock.id},{listener.id},"{sock.remote_ip}",{sock.remote_port}')

        sock.bridge.on_made = announce
        return sock.bridge

    def _open_failed(self, sock: Socket, code: int) -> None:
        if self.sockets.get(sock.id) is sock:
            del self.sockets[sock.id]
        self.m.last_error = code
        self.m.urc(f"+QIOPEN: {sock.id},{code}")

    # --- events from the host side ---------------------------------------------------------------
    def _on_data(self, sock: Socket) -> None:
        if sock.armed and sock.opener is None and self.sockets.get(sock.id) is sock:
            sock.armed = False
            length = f",{len(sock.bridge.rx)}" if self.m.recvind else ""
            self.m.urc(f'+QIURC: "recv",{sock.id}{length}')

    def _on_closed(self, sock: Socket) -> None:
        if sock.opener is None and self.sockets.get(sock.id) is sock:
            sock.state = CLOSING
            self.m.urc(f'+QIURC: "closed",{sock.id}')

    # --- closing and state ------------------------------------------------------------------------
    def drop(self, sock: Socket) -> None:
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

    def state_line(self, sock: Socket) -> str:
        state = self.m.connected_state if sock.state == CONNECTED and sock.service == "TCP" else sock.state
        local_port = sock.bridge.local_port if sock.bridge and not sock.local_port else sock.local_port
        address = self.m.local_ip if sock.service in ("TCP LISTENER", "UDP SERVICE") else sock.remote_ip
        server_id = sock.server_id if sock.service == "TCP INCOMING" else (sock.id if sock.server else 0)
        return (f'+QISTATE: {sock.id},"{sock.service}","{address}",{sock.remote_port},{local_port},'
                f'{state},{sock.ctx},{server_id},0,"uart1"')

    async def qistate(self, cmd: ATCommand) -> None:
        sockets = sorted(self.sockets.values(), key=lambda s: s.id)
        if cmd.kind == "write":
            mode = cmd.number(0, 0, 1)
            value = cmd.number(1, 0, self.max_id) if mode == 1 else cmd.number(1, 1, self.m.profile.contexts)
            sockets = [s for s in sockets if (s.id if mode == 1 else s.ctx) == value]
        self.m.reply(*[self.state_line(s) for s in sockets])

    # --- data -----------------------------------------------------------------------------------
    async def qisend(self, cmd: ATCommand) -> None:
        m = self.m
        sock = self.sockets.get(cmd.number(0, 0, self.max_id))
        if len(cmd.args) == 2 and cmd.int_arg(1) == 0:
            if sock is None or sock.bridge is None:
                m.ip_error(567)
                return
            sent = sock.bridge.total_sent
            unacked = sock.bridge.unacked if isinstance(sock.bridge, TcpBridge) else 0
            m.reply(f"+QISEND: {sent},{sent - unacked},{unacked}")
            return
        to_peer = len(cmd.args) == 4
        try:
            length = cmd.number(1, 1, m.profile.max_send)
            remote_port = cmd.number(3, 1, 65535) if to_peer else None
        except ValueError:
            m.ip_error(552)
            return
        if len(cmd.args) not in (2, 4):
            m.ip_error(552)
            return
        if sock is None or sock.state != CONNECTED or to_peer != (sock.service == "UDP SERVICE"):
            m.ip_error(567 if sock is None or sock.state != CONNECTED else 552)
            return
        peer = None
        if to_peer:
            try:
                peer = (str(ipaddress.IPv4Address(cmd.arg(2))), remote_port)
            except ValueError:
                m.ip_error(552)
                return
        m.serial.write(m.prompt)
        data = await m.serial.read_exact(length, timeout=5.0)
        if data is None:
            m.ip_error(569)
            return
        if m.payload_echo == "qisde" and m.qisde or m.payload_echo == "both" and m.qisde and m.echo:
            m.serial.write_frame(b"", data)
        bridge = sock.bridge
        if sock.state != CONNECTED or bridge is None or bridge.closed:
            m.ip_error(567)
        elif m.faults.chance("send_fail"):
            m.final("SEND FAIL")
        else:
            m.final(hand_over(bridge, data, peer, m.network.reachable))

    async def qird(self, cmd: ATCommand) -> None:
        m = self.m
        sock = self.sockets.get(cmd.number(0, 0, self.max_id))
        if sock is None or sock.bridge is None:
            m.ip_error(567)
            return
        bridge = sock.bridge
        if len(cmd.args) >= 2 and cmd.int_arg(1) == 0:
            unread = bridge.queued if sock.datagrams else len(bridge.rx)
            m.reply(f"+QIRD: {bridge.total_received},{bridge.total_read},{unread}")
            return
        if sock.service == "UDP SERVICE" and len(cmd.args) != 1:
            m.ip_error(552)  # the UDP SERVICE form takes no length
            return
        try:
            limit = cmd.number(1, 1, m.profile.max_read, m.profile.max_read)
        except ValueError:
            m.ip_error(552)
            return
        if sock.datagrams:
            if not bridge.datagrams:
                sock.armed = True
                m.reply("+QIRD: 0")
                return
            data, (ip, port) = bridge.read()
            data = data[:limit]
            header = b"+QIRD: %d" % len(data) + (b',"%s",%d' % (ip.encode(), port) if sock.service == "UDP SERVICE" else b"")
        else:
            data = bridge.read(limit)
            if not data:
                sock.armed = True
                m.reply("+QIRD: 0")
                return
            header = b"+QIRD: %d" % len(data)
        if m.corrupt is not None:
            how, m.corrupt = m.corrupt, None
            if how == "absurd":
                m.serial.write_frame(b"\r\n+QIRD: 99999999\r\n", data, b"\r\n\r\nOK\r\n")
            else:
                m.serial.write_frame(b"\r\n+QIRD: %d\r\n" % (2 * len(data)), data)  # and nothing more
            return
        noise = m.faults.noise(m.BENIGN_URCS)
        m.serial.write_frame(noise + b"\r\n" + header + b"\r\n", data,
                             b"\r\n" + m.faults.noise(m.BENIGN_URCS) + b"\r\nOK\r\n")

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

