"""``python -m bench.linerate``: the line as a user meets it — a module that boots at 115200, opened
with ``baudrate=921600``.

* **switch**: how long ``open_modem`` takes with the switch (find the module, ``AT+IPR`` /
  ``AT+UART_CUR``, the host's port, the ``AT`` that proves it, RTS/CTS) against the same open of a
  module already at the rate asked for; the median of a few;
* **path**: the transfers after that open, command mode and data mode, as a share of the 921600 line
  (the emulator in a process of its own, paced, as ``python -m bench``'s);
* **stall**: data mode with a reader that stops for 2 s, with RTS/CTS and without: what the host
  holds unread, how far the module's own sending and the peer's get during the stall, and whether
  every byte arrives. The emulator runs in this process here, so that its UART (held or not, bytes
  lost) can be read; the peer is a thread that counts what it manages to send.
"""
import argparse
import hashlib
import json
import os
import socket
import statistics
import sys
import threading
import time

import atsock
from fakemodem import FakeModem

from . import report
from .scenarios import ROOT, WIFI, Session, _spawn

BOOT = 115200
FAST = 921600
STALL = 2.0
GUARD = 0.05  # the stall's data mode: short guard times, the emulator's and the driver's alike


def settings(dialect: str) -> dict:
    return dict(apn="bench") if dialect == "quectel" else dict(WIFI)


def open_time(dialect: str, baudrate: int, flow_control) -> dict:
    """One ``open_modem`` on a fresh emulator process booting at 115200, paced."""
    emulator, tty = _spawn(["-m", "fakemodem", dialect, "--boot-baudrate", str(BOOT), "--paced",
                            "--host", "peer.test=127.0.0.1"]
                           + (["--network", f"{WIFI['ssid']}={WIFI['key']}"] if dialect == "esp8285" else []))
    try:
        time.sleep(0.5)  # booted: the open is timed, not the module's start
        started = time.perf_counter()
        modem = atsock.open_modem(tty, dialect=dialect, baudrate=baudrate, flow_control=flow_control,
                                  **settings(dialect))
        seconds = time.perf_counter() - started
        result = {"open_seconds": seconds, "baudrate": modem.baudrate, "flow_control": modem.flow_control,
                  "found_at": modem.line.found_at, "switch_seconds": modem.line.switch_seconds}
        modem.close()
        return result
    finally:
        emulator.terminate()
        emulator.wait(10)


def switch(dialect: str, repeats: int, log) -> dict:
    log(f"{dialect}: open at {BOOT} (as booted) and at {FAST} with RTS/CTS, {repeats} times each")
    plain = [open_time(dialect, BOOT, None) for _ in range(repeats)]
    fast = [open_time(dialect, FAST, "rtscts") for _ in range(repeats)]
    if any(run["baudrate"] != FAST or run["flow_control"] != "rtscts" for run in fast):
        raise RuntimeError(f"the switch did not happen: {fast}")
    median = lambda runs, key: statistics.median(run[key] for run in runs)  # noqa: E731
    return {"dialect": dialect, "open_as_booted": median(plain, "open_seconds"),
            "open_switched": median(fast, "open_seconds"), "settle": median(fast, "switch_seconds"),
            "extra": median(fast, "open_seconds") - median(plain, "open_seconds")}


def path(dialect: str, quick: bool, log) -> dict:
    size = (2 if quick else 10) * FAST // 10 // 1024 * 1024
    session = Session(dialect, BOOT, 0.0, baudrate=FAST, flow_control="rtscts")
    try:
        if session.modem.baudrate != FAST:
            raise RuntimeError(f"the line stayed at {session.modem.baudrate} baud")
        session.line_rate = FAST / 10
        log(f"{dialect}: booted at {BOOT}, opened at {FAST} with RTS/CTS: {size // 1024} KiB each way, "
            "command mode and data mode")
        return {"dialect": dialect, "download": session.download(size), "upload": session.upload(size),
                "data_mode_download": session.data_mode_download(size),
                "data_mode_upload": session.data_mode_upload(size)}
    finally:
        session.close()


class CountingPeer:
    """Sends ``size`` random bytes to the one client it accepts, counting what the kernel took."""

    def __init__(self, size: int):
        self.payload = os.urandom(size)
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)  # (the module's window is what holds it)
        with conn:
            view = memoryview(self.payload)
            try:
                while self.sent < len(view):
                    self.sent += conn.send(view[self.sent:self.sent + 16384])
            except OSError:  # the module dropped the connection (a session that failed)
                return
            try:
                conn.recv(1)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


def stall(dialect: str, flow_control, log, quick: bool = False) -> dict:
    """Data mode download at 921600 (switched from 115200); the reader reads a second, stops for
    ``STALL`` seconds, then reads the rest."""
    size = (4 if quick else 10) * FAST // 10  # seconds of line: more than the buffers on the way hold
    peer = CountingPeer(size)
    options = dict(networks={WIFI["ssid"]: WIFI["key"]}) if dialect == "esp8285" else {}
    log(f"{dialect}: data mode at {FAST}, {'RTS/CTS' if flow_control else 'no flow control'}, "
        f"the reader stalls {STALL:g} s")
    with FakeModem(dialect, boot_baudrate=BOOT, paced=True, escape_guard=GUARD, **options) as fm:
        extra = dict(escape_settle=GUARD) if dialect == "esp8285" else {}
        with atsock.open_modem(fm.port, dialect=dialect, baudrate=FAST, flow_control=flow_control,
                               escape_guard=GUARD, **settings(dialect), **extra) as modem:
            sock = modem.socket()
            sock.settimeout(60)
            with sock.data_mode():
                sock.connect(("127.0.0.1", peer.port))
                got = bytearray()
                started = time.perf_counter()
                while time.perf_counter() - started < 1.0:
                    got += sock.read(4096)
                unread = sock._conn.inbox  # (what the host holds for the caller)
                module = lambda: fm.call(lambda: (fm.uart.bytes_out, fm.uart.backlog))  # noqa: E731
                before = {"peer": peer.sent, "module": module()[0], "unread": unread.buffered}
                time.sleep(STALL)
                after = {"peer": peer.sent, "module": module()[0], "unread": unread.buffered,
                         "module_backlog": module()[1]}
                # without flow control bytes may be lost, and the rest never comes: a pause of 3 s
                # ends the read; with it, only a loaded machine pauses, and nothing is missing
                sock.settimeout(30.0 if flow_control else 3.0)
                try:
                    while len(got) < size:
                        got += sock.read(size - len(got))
                except OSError:
                    pass
                seconds = time.perf_counter() - started
                line = fm.line()
                sock.write(b"!")
            sock.close()
    peer.close()
    return {"dialect": dialect, "flow_control": flow_control, "bytes": size, "received": len(got), "intact":
            hashlib.sha256(bytes(got)).digest() == hashlib.sha256(peer.payload).digest(),
            "peer_during_stall": after["peer"] - before["peer"],
            "module_sent_during_stall": after["module"] - before["module"],
            "host_unread_most": max(before["unread"], after["unread"]),
            "module_held_back": after["module_backlog"], "lost": line["lost_out"] + line["lost_in"],
            "of_line": len(got) / seconds / (FAST / 10)}


def run(quick: bool, log, dialects=("quectel", "esp8285")) -> dict:
    load = os.getloadavg()
    results = {"switch": [switch(dialect, 3 if not quick else 1, log) for dialect in dialects],
               "path": [path(dialect, quick, log) for dialect in dialects],
               "stall": [stall(dialect, flow, log, quick) for dialect in dialects for flow in ("rtscts", None)]}
    results["load"] = [load, os.getloadavg()]
    return results


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def table(results: dict) -> str:
    rows = ["| dialect | open at 921600 with RTS/CTS (as booted: at 115200) | of which the switch | "
            "command mode down, up | data mode down, up |", "|---|---|---|---|---|"]
    paths = {run["dialect"]: run for run in results["path"]}
    for run in results["switch"]:
        p = paths[run["dialect"]]
        rows.append(f"| {run['dialect']} | {run['open_switched']:.2f} s ({run['open_as_booted']:.2f} s) | "
                    f"{run['settle'] * 1000:.0f} ms | {_pct(p['download']['of_line_rate'])}, "
                    f"{_pct(p['upload']['of_line_rate'])} | {_pct(p['data_mode_download']['of_line_rate'])}, "
                    f"{_pct(p['data_mode_upload']['of_line_rate'])} |")
    rows += ["", f"Data mode at 921600, a reader that stops for {STALL:g} s "
             "(a second's reading first, then the rest; the peer sends ten seconds of line, four with --quick):",
             "",
             "| dialect | flow control | unread in the host at most | the module sent during the stall | "
             "the peer sent during it | lost | every byte, in order |", "|---|---|---|---|---|---|---|"]
    for run in results["stall"]:
        rows.append(f"| {run['dialect']} | {run['flow_control'] or 'none'} | {run['host_unread_most'] // 1024} KiB | "
                    f"{run['module_sent_during_stall'] // 1024} KiB | {run['peer_during_stall'] // 1024} KiB | "
                    f"{run['lost']} bytes | {'yes' if run['intact'] else 'no'} |")
    start, end = results["load"]
    rows += ["", f"(load average {start[0]:.1f} at the start of these runs, {end[0]:.1f} at their end, on 2 cores)"]
    return "\n".join(rows)


README_MARKERS = ("<!-- bench-line:start -->", "<!-- bench-line:end -->")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linerate", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    parser.add_argument("--update-readme", action="store_true", help="put the tables into README.md")
    args = parser.parse_args(argv)
    results = run(args.quick, lambda message: print(message, file=sys.stderr, flush=True),
                  args.dialect or ("quectel", "esp8285"))
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.update_readme:
        report.update_readme(ROOT / "README.md", table(results), README_MARKERS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
