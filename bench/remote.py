"""A modem on another machine: the same emulated modem through ser2net on loopback (RFC 2217), with
a network's delay added by a relay of our own (bench.delay), against its own pty.

    python -m bench.remote [--quick] [--json] [--update-docs]

For each path, at 921600 baud: the AT round trip as a caller sees it (median and 90th percentile of
``modem.at("AT")``), what the path adds to the pty's (and, measured apart, what the relay alone adds
to a round trip: its timers wake on the event loop's millisecond clock), and goodput (a share of the line) in command
mode and, on Quectel, in data mode. ser2net runs tuned as docs/remote.md recommends; one row shows
its defaults (a character delay of at least 1 ms before it forwards what the port gave, 64-byte
buffers, no TCP_NODELAY). Then 8 modems in one process with none and with 4 of them through
ser2net (bench.many), and atsock's RFC 2217 client against pyserial's, unthrottled.
``--update-docs`` puts the tables into docs/remote.md.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

import atsock.wire.transport

from . import many, report
from .scenarios import MIB, ROOT, Session, _spawn

BAUD = 921600
#: (name, one-way delay or None for the pty itself, ser2net with its defaults)
DOCS_MARKERS = ("<!-- remote:start -->", "<!-- remote:end -->")
MANY = (8, 4)  # modems, of which through ser2net
PATHS = [("pty", None, False), ("ser2net, defaults", 0.0, True), ("ser2net", 0.0, False),
         ("ser2net, +1 ms each way", 0.001, False), ("ser2net, +10 ms each way", 0.010, False)]
DIALECTS = ("quectel", "esp8285")
SAMPLES = 200


def at_round_trips(modem, samples: int) -> dict:
    for _ in range(20):  # warm-up
        modem.at("AT")
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        modem.at("AT")
        times.append(time.perf_counter() - started)
    times.sort()
    return {"median": statistics.median(times), "p90": times[int(len(times) * 0.9)]}


def relay_round_trip(delay: float, samples: int = 200) -> float:
    """What bench.delay really adds to a 32-byte round trip (its timers wake on the loop's
    millisecond clock): through it to bench.peer's echo, less the same without it."""
    peer, port = _spawn(["-m", "bench.peer"])
    relay, relayed = _spawn(["-m", "bench.delay", port, str(delay)])
    try:
        return _echo_median(int(relayed), samples) - _echo_median(int(port), samples)
    finally:
        for process in (relay, peer):
            process.terminate()
            process.wait(10)


def _echo_median(port: int, samples: int) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"ECHO\n")
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            sock.sendall(b"x" * 32)
            got = 0
            while got < 32:
                got += len(sock.recv(32 - got))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(dialect: str, name: str, delay, defaults: bool, quick: bool) -> dict:
    size = (2 if quick else 6) * BAUD // 10 // 1024 * 1024  # seconds of line time each way
    session = Session(dialect, BAUD, 0.0, remote=delay, ser2net_defaults=defaults)
    try:
        result = {"dialect": dialect, "path": name, "delay": delay, "ser2net_defaults": defaults,
                  "at": at_round_trips(session.modem, SAMPLES // 4 if quick else SAMPLES),
                  "download": session.download(size), "upload": session.upload(size)}
        if dialect == "quectel" and not defaults:
            result["data_mode"] = {"download": session.data_mode_download(size),
                                   "upload": session.data_mode_upload(size)}
        if delay:
            result["relay_adds"] = relay_round_trip(delay)
        return result
    finally:
        session.close()


def clients(quick: bool) -> list:
    """Unthrottled downloads over the pty, through ser2net with atsock's RFC 2217 client, and with
    pyserial's (its rfc2217:// handler, on the reader-thread transport; ``ign_set_control`` because
    ser2net does not answer SET-CONTROL for a pty)."""
    size = MIB if quick else 4 * MIB
    results = []
    for name, remote in (("pty", None), ("ser2net, atsock's RFC 2217 client", 0.0),
                         ("ser2net, pyserial's RFC 2217 client", 0.0)):
        pyserial = "pyserial" in name
        original = atsock.wire.transport.is_network_url
        if pyserial:
            atsock.wire.transport.is_network_url = lambda port: False
        try:
            session = Session("quectel", None, 0.0, remote=remote, url_options="?ign_set_control" if pyserial else "")
        finally:
            atsock.wire.transport.is_network_url = original
        try:
            results.append({"client": name, "download": session.download(size if not pyserial else size // 4)})
        finally:
            session.close()
    return results


def clients_table(results: list) -> str:
    rows = ["| unthrottled download | goodput | CPU/MiB |", "|---|---|---|"]
    for r in results:
        rows.append(f"| {r['client']} | {r['download']['bytes_per_s'] / 1e6:.2f} MB/s | "
                    f"{r['download']['cpu_per_mib']:.2f}s |")
    return "\n".join(rows)


def run(quick: bool, log, dialects=DIALECTS) -> list:
    results = []
    for dialect in dialects:
        for name, delay, defaults in PATHS:
            if defaults and dialect != "quectel":
                continue
            log(f"{dialect} at {BAUD} baud over {name}")
            results.append(measure(dialect, name, delay, defaults, quick))
    return results


def table(results: list) -> str:
    rows = ["| dialect | path | AT round trip (median, p90) | added by the path (by the relay alone) | download | "
            "upload | data mode down, up | CPU/MiB down, up |", "|---|---|---|---|---|---|---|---|"]
    local = {r["dialect"]: r["at"]["median"] for r in results if r["delay"] is None}
    for r in results:
        at, added = r["at"], r["at"]["median"] - local.get(r["dialect"], r["at"]["median"])
        data = r.get("data_mode")
        data_text = f"{data['download']['of_line_rate'] * 100:.1f}%, {data['upload']['of_line_rate'] * 100:.1f}%" \
            if data else "—"
        relay = f" ({r['relay_adds'] * 1000:.2f} ms)" if "relay_adds" in r else ""
        rows.append(f"| {r['dialect']} | {r['path']} | {at['median'] * 1000:.2f} ms, {at['p90'] * 1000:.2f} ms | "
                    f"{'—' if r['delay'] is None else f'{added * 1000:+.2f} ms{relay}'} | "
                    f"{r['download']['of_line_rate'] * 100:.1f}% | {r['upload']['of_line_rate'] * 100:.1f}% | "
                    f"{data_text} | {r['download']['cpu_per_mib']:.3f}s, {r['upload']['cpu_per_mib']:.3f}s |")
    return "\n".join(rows)


def many_runs(quick: bool, log) -> list:
    count, remote = MANY
    runs = []
    for data_mode in (False, True):
        for through in (0, remote, 0, remote):  # in turns: both kinds see the same machine, twice
            log(f"{count} modems, {through} through ser2net, {'data' if data_mode else 'command'} mode")
            runs.append(many.measure(count, "quectel", BAUD, 4.0 if quick else 8.0, data_mode=data_mode,
                                     remote=through))
    return runs


def document(results: dict, load: str) -> str:
    return "\n\n".join([table(results["paths"]), f"Many modems in one process ({MANY[0]}, quectel, {BAUD} baud), "
                         "with and without some of them behind ser2net:",
                         report.many_table({"many": results["many"]}),
                         "atsock's RFC 2217 client against pyserial's, through the same ser2net:",
                         clients_table(results["clients"]), f"Load while measuring (`uptime`): {load}."])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.remote", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--update-docs", action="store_true", help="put the tables into docs/remote.md")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    loads = [os.getloadavg()[0]]
    results = {"paths": run(args.quick, log)}
    loads.append(os.getloadavg()[0])
    results["many"] = many_runs(args.quick, log)
    loads.append(os.getloadavg()[0])
    log("unthrottled: atsock's RFC 2217 client against pyserial's")
    results["clients"] = clients(args.quick)
    loads.append(os.getloadavg()[0])
    load = f"1-minute load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores"
    text = document(results, load)
    print(json.dumps(results, indent=2) if args.json else text)
    if args.update_docs:
        report.update_readme(ROOT / "docs" / "remote.md", text, DOCS_MARKERS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
