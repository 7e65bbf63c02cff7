"""Prometheus metrics of modems: ``registry.register(ModemCollector(modem))`` (``pip install 'atsock[metrics]'``).

One collector serves every modem of a process (``ModemCollector(*modems)``: a registry refuses two
collectors that give the same names); each series is labelled by the modem's ``port`` and ``imei``
(empty for an ESP module, which has none).

- ``atsock_registered`` (gauge): 1 while the modem is online: registered on its network (Quectel)
  or joined to its Wi-Fi (ESP), as far as atsock knows (the modules report a loss unsolicited,
  which takes the modem out of ``online``); 0 otherwise, also while its port is gone;
- ``atsock_signal_rssi_dbm`` (gauge): signal strength (Quectel ``AT+CSQ``, ESP-AT ``AT+CWJAP?``)
  as of the last refresh; absent while unknown;
- ``atsock_sockets_open`` (gauge): the module's sockets this process holds;
- ``atsock_bytes_total{direction}`` (counter): bytes on the serial line, commands and payloads
  alike, ``sent`` (to the module) or ``received``;
- ``atsock_recoveries_total`` (counter): times the modem brought itself back after trouble;
- ``atsock_at_command_seconds`` (histogram): AT exchanges, from the command written to its final result;
- ``atsock_state{state}`` (gauge): 1 for the modem's lifecycle state, 0 for the others.

A scrape never sends an AT command, so it never waits behind a bulk transfer or a data-mode block:
it reads, in one crossing to the modem's engine loop, what the engine counts anyway (bytes,
exchanges, state, sockets) and the cached signal. The signal is the only value that costs a
command: each modem's loop refreshes it every ``refresh`` seconds (default 15) while the modem is
online and its line is not held by data mode, one command that waits its turn like any other. The
IMEI is read once, when the collector is made (or at the first refresh that finds the modem online).
"""
import asyncio
import logging
from typing import Dict, Iterable, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .cli import answers
from .core.lifecycle import ModemState
from .wire import atcmd
from .wire.rawat import execute

log = logging.getLogger("atsock.metrics")

LABELS = ["port", "imei"]
REFRESH = 15.0
QUERY_TIMEOUT = 5.0


class _Watched:
    """One modem, its IMEI and its last signal reading (written on the modem's loop)."""

    def __init__(self, modem, refresh: float):
        self.modem = modem
        self.refresh = refresh
        self.port = str(getattr(modem.port, "port", None) or modem.port)
        self.imei = ""
        self.rssi_dbm: Optional[int] = None
        modem.run(self._refresh())  # the first scrape finds them already
        self._task = modem.submit(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            await self._refresh()

    async def _refresh(self) -> None:
        """The signal, while the line is free; the IMEI until it is known (a modem made a collector
        while recovering gets its label once it answers)."""
        if self.modem.state is not ModemState.ONLINE or self.modem.engine.held_by is not None:
            return
        if not self.imei and self.modem.dialect_class.name == "quectel":
            self.imei = answers.bare_value(await self._ask(atcmd.build("AT+GSN")) or []) or ""
        await self._read_signal()

    async def _read_signal(self) -> None:
        modem = self.modem
        if modem.dialect_class.name == "quectel":
            reading = answers.csq(await self._ask(atcmd.build("AT+CSQ")) or [])
            self.rssi_dbm = reading["dbm"] if reading else None
        else:
            name = "AT+CWJAP_CUR" if modem.firmware_major == 1 else "AT+CWJAP"
            joined = answers.current_ap(await self._ask(atcmd.query(name)) or [])
            self.rssi_dbm = joined["rssi"] if joined else None

    async def _ask(self, command):
        try:
            result = await execute(self.modem.engine, command, QUERY_TIMEOUT)
        except Exception as exc:  # a busy or recovering modem: the next refresh asks again
            log.debug("%s: %s not answered: %s", self.port, command, exc)
            return None
        return list(result.lines) if result.ok else None

    def snapshot(self) -> dict:
        """Everything a scrape shows, read on the modem's loop in one go (no AT command)."""
        try:
            return self.modem.run(self._read())
        except OSError:  # closed: its loop has gone with it
            return {"state": self.modem.state, "live": False, "rssi_dbm": None}

    async def _read(self) -> dict:
        modem, stats = self.modem, self.modem.engine.stats
        return {"state": modem.state, "live": True, "sockets": len(modem.core.slots.connections()),
                "rssi_dbm": self.rssi_dbm, "recoveries": modem.recoveries, "sent": stats.bytes_written,
                "received": stats.bytes_read, "buckets": stats.exchange_times.cumulative(),
                "seconds": stats.exchange_times.sum}

    def close(self) -> None:
        self._task.cancel()


class ModemCollector(Collector):
    def __init__(self, *modems, refresh: float = REFRESH):
        if not modems:
            raise TypeError("ModemCollector needs at least one modem")
        if not 0 < refresh:
            raise ValueError("refresh must be a positive number of seconds")
        self._watched = [_Watched(modem, refresh) for modem in modems]

    def describe(self) -> Iterable:
        return self._families({})

    def collect(self) -> Iterable:
        return self._families({id(w): w.snapshot() for w in self._watched})

    def close(self) -> None:
        """Stop refreshing the signal (closing a modem stops it too)."""
        for watched in self._watched:
            watched.close()

    def _families(self, snapshots: Dict[int, dict]):
        registered = GaugeMetricFamily("atsock_registered", "1 while the modem is online: registered on its "
                                       "network or joined to its Wi-Fi, as far as atsock knows", labels=LABELS)
        signal = GaugeMetricFamily("atsock_signal_rssi_dbm", "received signal strength (AT+CSQ, AT+CWJAP?) as "
                                   "of the last refresh", labels=LABELS)
        sockets = GaugeMetricFamily("atsock_sockets_open", "sockets of the module this process holds", labels=LABELS)
        moved = CounterMetricFamily("atsock_bytes", "bytes on the serial line, commands and payloads alike",
                                    labels=LABELS + ["direction"])
        recoveries = CounterMetricFamily("atsock_recoveries", "times the modem brought itself back after trouble",
                                         labels=LABELS)
        exchanges = HistogramMetricFamily("atsock_at_command_seconds", "AT exchanges, from the command written "
                                          "to its final result", labels=LABELS)
        states = GaugeMetricFamily("atsock_state", "1 for the modem's lifecycle state", labels=LABELS + ["state"])
        for watched in self._watched:
            snap = snapshots.get(id(watched))
            if snap is None:
                continue
            labels = [watched.port, watched.imei]
            registered.add_metric(labels, 1 if snap["state"] is ModemState.ONLINE else 0)
            if snap["rssi_dbm"] is not None:
                signal.add_metric(labels, snap["rssi_dbm"])
            for state in ModemState:
                states.add_metric(labels + [state.value], 1 if snap["state"] is state else 0)
            if not snap["live"]:
                continue
            sockets.add_metric(labels, snap["sockets"])
            moved.add_metric(labels + ["sent"], snap["sent"])
            moved.add_metric(labels + ["received"], snap["received"])
            recoveries.add_metric(labels, snap["recoveries"])
            exchanges.add_metric(labels, [(floatToGoString(bound), count) for bound, count in snap["buckets"]],
                                 snap["seconds"])
        return [registered, signal, sockets, moved, recoveries, exchanges, states]
