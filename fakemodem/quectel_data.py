"""Data paths of the emulated Quectel module: AT+QISEND in its forms, AT+QISENDEX, AT+QIRD, direct
push, and transparent mode (CONNECT, ``+++``, ATO, NO CARRIER) — quectel-tcpip.md §7, §8, §9, §12.

AT+QICFG="dataformat" (hex payloads) and "viewmode" (``header,data``) apply to QISEND, QIRD and
direct push; the lengths they print count data bytes, not hex characters, unless ``hex_length``
is "chars" (unconfirmed in the reference).
"""
import asyncio
import binascii

from . import ipv6
from .atcommand import ATCommand
from .datamode import DataMode
from .hostlink import TcpBridge, hand_over, pace_to_line, takes_more

CTRL_Z, ESC = 0x1A, 0x1B
CONNECTED = 2
CANCELLED = object()  # the variable-length send was ended with ESC


class DataPaths:
    def __init__(self, services):
        self.services = services
        self.m = services.m
        self.last_transparent = {}  # port -> the socket ATO resumes there

    def _socket(self, cmd: ATCommand):
        return self.services.sockets.get(cmd.number(0, 0, self.services.max_id))

    # --- payload representation ------------------------------------------------------------------
    def _hex_send(self) -> bool:
        return self.m.settings["dataformat"][0] == 1

    def _shown(self, data: bytes) -> bytes:
        """Received data as the host gets it: raw, or hex text with dataformat <recv> 1."""
        return binascii.hexlify(data).upper() if self.m.settings["dataformat"][1] == 1 else data

    def _shown_length(self, data: bytes) -> int:
        hex_recv = self.m.settings["dataformat"][1] == 1
        return 2 * len(data) if hex_recv and self.m.hex_length == "chars" else len(data)

    def _separator(self) -> bytes:
        return b"," if self.m.settings["viewmode"][0] == 1 else b"\r\n"

    # --- AT+QISEND -------------------------------------------------------------------------------
    async def qisend(self, cmd: ATCommand) -> None:
        m = self.m
        sock = self._socket(cmd)
        if len(cmd.args) == 2 and cmd.int_arg(1) == 0:  # counters
            if sock is None or sock.bridge is None:
                m.ip_error(567)
                return
            sent = sock.bridge.total_sent
            unacked = sock.bridge.unacked if isinstance(sock.bridge, TcpBridge) else 0
            m.reply(f"+QISEND: {sent},{sent - unacked},{unacked}")
            return
        to_peer = len(cmd.args) == 4
        try:
            length = cmd.number(1, 1, m.profile.max_send) if len(cmd.args) > 1 else None
            remote_port = cmd.number(3, 1, 65535) if to_peer else None
        except ValueError:
            m.ip_error(552)
            return
        if len(cmd.args) not in (1, 2, 4):
            m.ip_error(552)
            return
        if sock is None or sock.state != CONNECTED or to_peer != (sock.service == "UDP SERVICE"):
            m.ip_error(567 if sock is None or sock.state != CONNECTED else 552)
            return
        peer = None
        if to_peer:
            if ipv6.version(cmd.arg(2)) != sock.version:  # one family per UDP SERVICE (ipv6.md §1.4)
                m.ip_error(552)
                return
            peer = (ipv6.normal(cmd.arg(2)), remote_port)
        m.serial.write(m.prompt)
        timeout = m.settings.get("qisend/timeout", (5,))[0] or 5.0
        data = await (self._read_fixed(length, timeout) if length else self._read_until_ctrl_z(timeout))
        if data is None:
            m.ip_error(569)
            return
        if data is CANCELLED:
            m.final(m.qisend_cancel)
            return
        self._echo_payload(data)
        self._send(sock, data, peer)

    async def _read_fixed(self, length: int, timeout: float):
        """``<len>`` bytes, or twice as many hex characters with dataformat <send> 1."""
        if not self._hex_send():
            return await self.m.serial.read_exact(length, timeout)
        chars = length if self.m.hex_length == "chars" else 2 * length
        text = await self.m.serial.read_exact(chars, timeout)
        return None if text is None else self._unhex(text)

    async def _read_until_ctrl_z(self, timeout: float):
        """The variable-length form: data up to Ctrl-Z (send) or ESC (cancel), at most max_send."""
        limit = self.m.profile.max_send * (2 if self._hex_send() else 1)

        def complete(inbox):
            for index, byte in enumerate(inbox[:limit + 1]):
                if byte in (CTRL_Z, ESC):
                    return index + 1
            return limit if len(inbox) >= limit else None

        data = await self.m.serial.read_until(complete, timeout, limit)
        if data is None or data[-1:] == bytes([ESC]):
            return None if data is None else CANCELLED
        data = data[:-1] if data[-1:] == bytes([CTRL_Z]) else data
        return self._unhex(data) if self._hex_send() else data

    @staticmethod
    def _unhex(text: bytes):
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            return b""  # not hex: nothing to send (answered ERROR)

    def _echo_payload(self, data: bytes) -> None:
        m = self.m
        if m.payload_echo == "qisde" and m.qisde or m.payload_echo == "both" and m.qisde and m.echo:
            m.serial.write_frame(b"", data)

    def _send(self, sock, data: bytes, peer) -> None:
        m = self.m
        bridge = sock.bridge
        if not data:
            m.ip_error(552)
        elif sock.state != CONNECTED or bridge is None or bridge.closed:
            m.ip_error(567)
        elif m.faults.chance("send_fail"):
            m.final("SEND FAIL")
        else:
            m.final(hand_over(bridge, data, peer, m.network.reachable))

    async def qisendex(self, cmd: ATCommand) -> None:
        """AT+QISENDEX=<id>,"<hex string>": the data written as hex in the command itself."""
        m = self.m
        sock = self._socket(cmd)
        text = cmd.arg(1) or ""
        if len(cmd.args) != 2 or not text or len(text) % 2 or len(text) // 2 > m.qisendex_max:
            m.ip_error(552)
            return
        try:
            data = binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            m.ip_error(552)
            return
        if sock is None or sock.state != CONNECTED or sock.service == "UDP SERVICE":
            m.ip_error(567 if sock is None or sock.state != CONNECTED else 552)
            return
        self._send(sock, data, None)

    # --- AT+QIRD ---------------------------------------------------------------------------------
    async def qird(self, cmd: ATCommand) -> None:
        m = self.m
        sock = self._socket(cmd)
        if sock is None or sock.bridge is None:
            m.ip_error(567)
            return
        bridge = sock.bridge
        if len(cmd.args) >= 2 and cmd.int_arg(1) == 0:
            m.reply(f"+QIRD: {bridge.total_received},{bridge.total_read},{sock.unread}")
            return
        if sock.service == "UDP SERVICE" and len(cmd.args) != 1:
            m.ip_error(552)  # the UDP SERVICE form takes no length
            return
        try:
            limit = cmd.number(1, 1, m.profile.max_read, m.profile.max_read)
        except ValueError:
            m.ip_error(552)
            return
        if sock.access_mode != 0:
            m.ip_error(552)  # data is pushed, not buffered, in the other access modes
            return
        if not sock.unread:
            sock.armed = True
            m.reply("+QIRD: 0")
            return
        if sock.datagrams:
            data, (ip, port) = bridge.read()
            data = data[:limit]
            where = f',"{m.shown(ip)}",{port}' if sock.service == "UDP SERVICE" else ""
        else:
            data, where = bridge.read(limit), ""
        header = f"+QIRD: {self._shown_length(data)}{where}".encode()
        if m.corrupt is not None:
            how, m.corrupt = m.corrupt, None
            if how == "absurd":
                m.serial.write_frame(b"\r\n+QIRD: 99999999\r\n", data, b"\r\n\r\nOK\r\n")
            else:
                m.serial.write_frame(b"\r\n+QIRD: %d\r\n" % (2 * len(data)), data)  # and nothing more
            return
        noise = m.faults.noise
        m.serial.write_frame(noise(m.BENIGN_URCS) + b"\r\n" + header + self._separator(), self._shown(data),
                             b"\r\n" + noise(m.BENIGN_URCS) + b"\r\nOK\r\n")

    # --- direct push (access mode 1) ---------------------------------------------------------------
    def push(self, sock) -> None:
        """Everything received goes out at once: ``+QIURC: "recv",<id>,<len>`` then the data."""
        m = self.m
        bridge = sock.bridge
        while sock.unread:
            if sock.datagrams:
                data, (ip, port) = bridge.read()
                data = data[: m.profile.max_read]
                ip = f'"{m.shown(ip)}"' if m.push_quote_ip else m.shown(ip)
                where = f",{ip},{port}" if sock.service == "UDP SERVICE" else ""
            else:
                data, where = bridge.read(m.profile.max_read), ""
            head = f'\r\n+QIURC: "recv",{sock.id},{self._shown_length(data)}{where}'.encode()
            m.notice(head + self._separator(), self._shown(data), b"\r\n" if m.push_crlf else b"")
        pace_to_line(bridge, m.uart_side)

    # --- transparent mode (access mode 2) -----------------------------------------------------------
    def enter_transparent(self, sock) -> None:
        """The port the command came from (the UART, or a multiplexer channel) carries the socket."""
        m = self.m
        port = m.serial
        sock.access_mode = 2
        sock.carrier = port
        self.last_transparent[port] = sock
        m.final("CONNECT")
        mode = DataMode(asyncio.get_running_loop(), guard=m.escape_guard,
                        packet_size=m.settings["transpktsize"][0],
                        idle=m.settings["transwaittm"][0] * m.profile.transwaittm_unit,
                        on_data=lambda packet: self._send_raw(sock, packet),
                        on_escape=lambda: m.on_port(port, self._escaped, sock), room=lambda: takes_more(sock.bridge))
        port.enter_data_mode(mode)
        if sock.unread:
            self.pass_through(sock)

    def _send_raw(self, sock, packet: bytes) -> None:
        bridge = sock.bridge
        if bridge is not None and not bridge.closed:
            bridge.send(packet)

    def pass_through(self, sock) -> None:
        """Received data goes to the host as it is."""
        bridge, port = sock.bridge, sock.carrier
        while sock.unread:
            data = bridge.read()[0] if sock.datagrams else bridge.read(65536)
            port.write_frame(b"", data)
        pace_to_line(bridge, port)

    def _escaped(self, sock) -> None:
        """``+++`` with its guard times: OK, and the socket is in buffer access mode."""
        self.m.serial.leave_data_mode()
        sock.carrier = None
        sock.access_mode = 0
        sock.armed = True
        self.m.final("OK")
        self.m.release_urcs()
        if sock.unread:
            self.services.on_data(sock)

    def stop_transparent(self) -> None:
        """The module restarts: no port is transparent any more, and no word says so."""
        for sock in self.services.sockets.values():
            if sock.carrier is not None:
                sock.carrier.leave_data_mode()
                sock.carrier = None

    def connection_lost(self, sock) -> None:
        """The connection ended while a port carried it: that port is back in command mode."""
        self.m.on_port(sock.carrier, self._lost, sock)

    def _lost(self, sock) -> None:
        m = self.m
        m.serial.leave_data_mode()
        sock.carrier = None
        sock.access_mode = 0
        if m.transparent_close == "NO CARRIER":
            m.final("NO CARRIER")
        else:
            m.serial.write(f'\r\n+QIURC: "closed",{sock.id}\r\n'.encode())  # on the port that carried it
        m.release_urcs()

    def channel_closed(self, port) -> None:
        """A multiplexer channel closed under its transparent mode: the socket stays open, in
        buffer access mode (a fixed reading: no source says)."""
        self.last_transparent.pop(port, None)
        for sock in list(self.services.sockets.values()):
            if sock.carrier is port:
                port.leave_data_mode()
                sock.carrier = None
                sock.access_mode = 0
                sock.armed = True
                if sock.unread:
                    self.services.on_data(sock)

    async def ato(self, cmd: ATCommand) -> None:
        """ATO: back into the transparent connection; NO CARRIER if there is none to resume."""
        sock = self.last_transparent.get(self.m.serial)
        if sock is None or self.services.sockets.get(sock.id) is not sock or sock.state != CONNECTED:
            self.m.final("NO CARRIER")
            return
        self.enter_transparent(sock)
