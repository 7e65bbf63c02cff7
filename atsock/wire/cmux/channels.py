"""The multiplexer's channels for sockets in data mode: one engine per channel, so that several
sockets carry their bytes raw at once while the AT engine goes on taking commands on DLCI 1.

A :class:`atsock.core.transparent.DataSession` runs on any line that keeps its contract
(:class:`atsock.core.transparent.DataLine`); an engine on a channel of its own is one. The module's
command to enter the mode (``AT+QISWTMD``), the escape, its answer and the probe that proves the
mode ended all go on that channel: a virtual port of the module is a whole AT port, with its own
transparent mode (cmux.md §3, §10). Channels are opened when first needed and kept for the next
session; the multiplexer's end (close-down, restart, lost port) takes them with it.

A session's silences around ``+++`` count from when its last byte leaves the port, and on a
shared line that byte may wait behind other channels' frames: :class:`ChannelClock` reads the
line's own clock at the channel's last write instead of counting the session's bytes alone.
"""
import errno
from typing import Awaitable, Callable, Dict, Optional

from ...errors import os_error
from .line import ChannelTransport, MuxLine, MuxRefused

FRAME_COST = 4  # octets besides the data in a frame that shares its flags (frames.DataFramer)


class ChannelClock:
    """:class:`atsock.wire.escape.LineClock` for a session on one channel of a multiplexed line."""

    def __init__(self, line: MuxLine, channel: ChannelTransport):
        self._line = line
        self._channel = channel
        self._since = 0.0

    @property
    def rate(self) -> Optional[float]:
        return self._line.clock.rate

    @property
    def free(self) -> float:
        """When the channel's last byte has left the port (not before the session began)."""
        return max(self._since, self._channel.leaves_at)

    @free.setter
    def free(self, when: float) -> None:  # the OS said (tcdrain) that the port is empty
        self._since = self._channel.leaves_at = when

    def restart(self, now: float) -> None:
        self._since = now

    def add(self, count: int, now: float) -> float:
        """When ``count`` bytes about to be written will have left: behind all the line holds."""
        line = self._line.clock
        framed = count + FRAME_COST * -(-count // self._line.n1) + 1
        return max(line.free, now) + (framed / line.rate if line.rate else 0.0)


class DataChannels:
    """DLCIs ``first``..``last`` for sessions. ``make_engine()`` makes an engine for a channel and
    ``prepare(engine)`` runs its first commands there (echo off, numeric errors: each virtual port
    may keep settings of its own)."""

    def __init__(self, line: MuxLine, make_engine: Callable[[], object],
                 prepare: Callable[[object], Awaitable[None]], first: int = 2, last: int = 4):
        self.line = line
        self.make_engine = make_engine
        self.prepare = prepare
        self.dlcis = range(first, last + 1)
        self._engines: Dict[int, object] = {}
        self._busy: Dict[int, bool] = {}

    async def take(self):
        """(engine, clock) of a free channel, opened if it is not; EBUSY when every one carries a
        session, ENETDOWN when the line is not multiplexed."""
        if not self.line.multiplexed:
            raise os_error(errno.ENETDOWN, "the line is not multiplexed (CMUX): the modem is recovering")
        for dlci in self.dlcis:
            if self._busy.get(dlci):
                continue
            self._busy[dlci] = True
            try:
                engine = await self._ready(dlci)
            except BaseException:
                self._busy[dlci] = False
                raise
            return engine, ChannelClock(self.line, engine.transport)
        raise os_error(errno.EBUSY, f"every CMUX channel for data mode ({len(self.dlcis)}) carries a socket in data "
                                    "mode: leave one's data mode first")

    def give_back(self, engine) -> None:
        for dlci, known in self._engines.items():
            if known is engine:
                self._busy[dlci] = False

    async def _ready(self, dlci: int):
        engine = self._engines.get(dlci)
        if engine is not None and engine.gone is None and self.line.carries(dlci, engine):
            return engine
        engine = self._engines[dlci] = self.make_engine()
        try:
            await self.line.open_channel(dlci, engine)
        except MuxRefused as exc:
            raise os_error(exc.errno, f"CMUX channel {dlci} for data mode: {exc.strerror}") from None
        await self.prepare(engine)
        return engine
