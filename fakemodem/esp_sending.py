"""Sending on the emulated ESP-AT module: AT+CIPSEND, AT+CIPSENDEX and passthrough (AT+CIPMODE=1,
AT+CIPSEND, ``+++``) — esp-at.md §5.3, §5.4.

AT+CIPSENDEX ends its payload at ``<len>`` bytes or at the two characters ``\\0``; a backslash
escapes the next character (``\\\\0`` sends ``\\0``). Whether ``Recv <n> bytes`` counts the bytes
received or those sent after unescaping is unconfirmed: ``sendex_recv_count``.
"""
import asyncio

from . import ipv6
from .atcommand import ATCommand
from .datamode import DataMode
from .hostlink import hand_over, takes_more

BACKSLASH, ZERO = 0x5C, 0x30
PAYLOAD_TIMEOUT = 10.0


def sendex_end(limit: int):
    """The ``complete`` function for SerialSide.read_until: the payload ends after ``limit``
    bytes or just after an unescaped ``\\0``."""
    def complete(inbox):
        escaped = False
        for index, byte in enumerate(inbox[:limit]):
            if escaped:
                if byte == ZERO:
                    return index + 1
                escaped = False
            elif byte == BACKSLASH:
                escaped = True
        return limit if len(inbox) >= limit else None
    return complete


def unescape_sendex(raw: bytes) -> bytes:
    """The bytes CIPSENDEX sends: backslashes dropped, an unescaped ``\\0`` ends the data."""
    out, escaped = bytearray(), False
    for byte in raw:
        if escaped:
            if byte == ZERO:
                break
            out.append(byte)
            escaped = False
        elif byte == BACKSLASH:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


class Sending:
    def __init__(self, module):
        self.m = module
        self.links = module.links
        self.cipmode = 0

    def _target(self, cmd: ATCommand):
        """(link, destination, length) of a CIPSEND/CIPSENDEX write, or None if refused."""
        m = self.m
        link_id, at = self.links._ids(cmd)
        link = self.links.links.get(link_id)
        if link is None:
            m.fail_detail("link is not valid")
            return None
        length = cmd.number(at, 1, m.send_max)
        if len(cmd.args) - at not in (1, 3):
            raise ValueError("CIPSEND arguments")
        destination = link.remote
        if len(cmd.args) - at == 3:
            if link.kind != "UDP":
                raise ValueError("a destination is for UDP links only")
            if ipv6.version(cmd.arg(at + 1)) != (6 if link.v6 else 4):
                raise ValueError("a destination of the link's own family")
            destination = (ipv6.normal(cmd.arg(at + 1)), cmd.number(at + 2, 1, 65535))
        return link, destination, length

    async def cipsend(self, cmd: ATCommand) -> None:
        if cmd.kind == "exec":
            await self._passthrough()
            return
        if self.cipmode:
            raise ValueError("AT+CIPSEND=<len> is for normal transmission mode")
        target = self._target(cmd)
        if target is None:
            return
        link, destination, length = target
        self.m.serial.write(self.m.prompt)
        data = await self.m.serial.read_exact(length, PAYLOAD_TIMEOUT)
        await self._finish(link, destination, data, length)

    async def cipsendex(self, cmd: ATCommand) -> None:
        if self.cipmode:
            raise ValueError("AT+CIPSENDEX is for normal transmission mode")
        target = self._target(cmd)
        if target is None:
            return
        link, destination, length = target
        self.m.serial.write(self.m.prompt)
        raw = await self.m.serial.read_until(sendex_end(length), PAYLOAD_TIMEOUT, length)
        data = None if raw is None else unescape_sendex(raw)
        count = None if raw is None else (len(raw) if self.m.sendex_recv_count == "received" else len(data))
        await self._finish(link, destination, data, count)

    async def _finish(self, link, destination, data, count) -> None:
        m = self.m
        if data is None:
            m.final("ERROR")
            return
        m.final(f"Recv {count} bytes")
        bridge = link.bridge
        if self.links.links.get(link.id) is not link or bridge.closed or m.faults.chance("send_fail"):
            outcome = "SEND FAIL"
        else:
            outcome = hand_over(bridge, data, destination, m.network.reachable)
        if m.send_ok_delay:
            await self._pushing(m.send_ok_delay)
        m.final(outcome)

    async def _pushing(self, seconds: float) -> None:
        """The module is still pushing the send out (``send_ok_delay``): the peer's answer may come
        first, and a command meanwhile is answered ``busy s...`` where the firmware says so (1.x)."""
        serial = self.m.serial
        busy = serial.busy_reply
        if self.m.profile.busy_s:
            serial.busy_reply = b"\r\nbusy s...\r\n"
        try:
            await asyncio.sleep(seconds)
        finally:
            serial.busy_reply = busy

    # --- passthrough ------------------------------------------------------------------------------
    async def cipmode_cmd(self, cmd: ATCommand) -> None:
        m = self.m
        if cmd.kind == "read":
            m.reply(f"+CIPMODE:{self.cipmode}")
            return
        mode = cmd.number(0, 0, 1)
        if mode and m.mux:
            m.fail_detail("MUX=1")  # passthrough is for the single connection only
            return
        self.cipmode = mode
        m.final("OK")

    async def _passthrough(self) -> None:
        """AT+CIPSEND alone, with CIPMODE=1 and the link up: every byte from now on is data."""
        m = self.m
        link = self.links.links.get(0)
        if not self.cipmode or m.mux or link is None:
            m.fail_detail("link is not valid" if self.cipmode and link is None else "")
            return
        m.serial.write(m.passthrough_prompt)
        self.links.passthrough = link
        packet = m.profile.frame_max
        m.serial.enter_data_mode(DataMode(asyncio.get_running_loop(), guard=m.escape_guard, packet_size=packet,
                                          idle=0.02, on_data=lambda data: self._send_raw(link, data),
                                          on_escape=self._escaped, rule=m.escape_rule,
                                          room=lambda: takes_more(link.bridge)))
        if link.bridge.rx if link.kind == "TCP" else link.bridge.datagrams:
            self.links._on_data(link)

    def _send_raw(self, link, data: bytes) -> None:
        if link.bridge is not None and not link.bridge.closed:
            link.bridge.send(data)

    def _escaped(self) -> None:
        """``+++`` alone between two silences: back to commands, with no answer (2.x; ``+QUITT``
        when AT+SYSMSG bit 0 asks for it)."""
        self.m.serial.leave_data_mode()
        self.links.passthrough = None
        if self.m.settings.sysmsg & 1:
            self.m.message("+QUITT")

    def connection_lost(self, link) -> None:
        self.m.serial.leave_data_mode()
        self.links.passthrough = None

    def reset(self) -> None:
        self.cipmode = 0
