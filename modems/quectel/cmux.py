"""CMUX on a Quectel module (cmux.md): the AT text around :class:`atsock.wire.cmux.line.MuxLine`.

=====================  ======================================================================
enter                  plain ``AT`` answered; if not, a multiplexer an earlier host left (it died
                       in CMUX, and the module stays so, cmux.md §13.3) is looked for with SABM
                       on DLCI 0 and, if answered UA, closed down (CLD); ``AT+QCFG="cmux/urcport",1``
                       (notices to DLCI 1 only); ``AT+CMUX=0,0,<speed>,127,10,3,30,10,2`` -> ``OK``;
                       300 ms; SABM 0, SABM 1
notices                on DLCI 1 with the AT engine; data-mode channels carry no notices
data mode              a socket's ``with data_mode()`` runs on a channel of its own (DLCI 2-4, an
                       engine each: ``ATE0``, ``AT+CMEE=1`` when first opened), ``AT+QISWTMD``,
                       ``+++`` and the probe there: three sockets at once, commands beside them
leave                  DISC on each data channel and DLCI 1, then CLD answered by CLD: the module
                       is in plain AT mode (cmux.md §13.1)
=====================  ======================================================================

The parameters are the full nine-value form every Quectel driver sends, with N1 = 127: what a
BG9x/EC2x does with fewer (its N1 default) is not documented. ``<port_speed>`` names the line's
own rate (the multiplexer runs at it; AT+IPR cannot change it while multiplexed).
"""
import logging
from typing import Awaitable, Callable

from atsock.wire import atcmd
from atsock.wire.cmux.frames import DEFAULT_N1
from atsock.wire.channel import ATChannel
from atsock.wire.cmux.channels import DataChannels
from atsock.wire.cmux.line import AT_DLCI, MuxLine
from atsock.wire.engine import Engine
from atsock.errors import CommandFailed, CommandTimeout

from .codes import T_QUERY

log = logging.getLogger("atsock.quectel")

SPEED_CODES = {9600: 1, 19200: 2, 38400: 3, 57600: 4, 115200: 5, 230400: 6, 460800: 7, 921600: 8}
DEFAULT_SPEED = 5  # 115200: the M10 manual's default, for a rate with no code (a pty, a pyserial URL)
URC_PORT = AT_DLCI  # virtual port 1 = DLCI 1, the AT engine's
DATA_CHANNELS = (2, 3, 4)  # the other virtual ports (BG96: 1-4), one per socket in data mode
QUICK_PROBES, QUICK_PROBE = 2, 0.5  # plain AT before anything else: a module in CMUX ignores it


class QuectelMux:
    """``probe`` is the dialect's resync probe, for the engines of the data-mode channels."""

    def __init__(self, engine, probe):
        self.engine = engine
        self.probe = probe
        self.line = MuxLine(engine, boot_words=(b"RDY",))
        self.channels = DataChannels(self.line, self._channel_engine, self._prepare,
                                     DATA_CHANNELS[0], DATA_CHANNELS[-1])

    def _channel_engine(self) -> Engine:
        engine = Engine(ATChannel(terminator=b"\r"))
        engine.probe_command = self.probe
        return engine

    @staticmethod
    async def _prepare(engine: Engine) -> None:
        """Echo off and numeric errors on a data-mode channel (a virtual port may keep its own)."""
        await engine.command(atcmd.build("ATE0"), timeout=T_QUERY, check=False)
        await engine.command(atcmd.build("AT+CMEE", atcmd.number(1, 0, 2)), timeout=T_QUERY, check=False)

    async def enter(self, sync: Callable[[], Awaitable[None]]) -> None:
        """From whatever state an earlier session left to multiplexed, with the AT engine on DLCI 1."""
        if self.line.multiplexed:  # a bring-up again (recovery): start from the module's plain AT
            await self.line.close_down()
        self.line.listen_for_frames()  # frames among the answers: an "OK" was a frame's, from a dead session
        answered = ready = False
        try:
            await self.engine.sync(attempts=QUICK_PROBES, timeout=QUICK_PROBE)  # the usual case: plain AT
            answered = ready = True
        except CommandTimeout:
            pass
        except CommandFailed:  # ERROR until APP RDY (or a frame's answer): the start-up waits for plain AT
            answered = True
        if self.line.frames_heard() or not answered:
            await self.line.leave_leftover(DEFAULT_N1)
            ready = False
        if not ready:
            await sync()
        e = self.engine
        await e.command(atcmd.build("AT+QCFG", atcmd.text("cmux/urcport"), atcmd.number(URC_PORT, 0, 4)),
                        timeout=T_QUERY, check=False)  # a firmware without the setting sends notices everywhere
        await e.command(atcmd.build("AT+CMUX", *(atcmd.number(v, 0, 255) for v in self._parameters())),
                        timeout=T_QUERY)
        await self.line.start(DEFAULT_N1)

    def _parameters(self):
        port = self.engine.transport.get_extra_info("serial") if self.engine.transport is not None else None
        speed = SPEED_CODES.get(getattr(port, "baudrate", None), DEFAULT_SPEED)
        # mode basic, subset UIH, speed, N1, T1 100 ms, N2 3, T2 300 ms, T3 10 s, k 2 (cmux.md §2.3)
        return 0, 0, speed, DEFAULT_N1, 10, 3, 30, 10, 2

    async def leave(self) -> None:
        await self.line.close_down()
