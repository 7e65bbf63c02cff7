"""``python -m bench``: run the benchmarks, print the table, write JSON and the goodput plot.

    python -m bench                    # both dialects, 115200 / 921600 / unthrottled, 0 and 5 ms
    python -m bench --quick            # smaller transfers, shorter runs
    python -m bench --update-readme    # also put the tables into README.md
    python -m bench --no-tls           # without host and module TLS against plain TCP (bench.tls)
    python -m bench --no-data-mode     # without data mode (bench.scenarios, transparent/passthrough)
    python -m bench --no-many          # without many modems in one process (bench.many)
    python -m bench --cpu-share 20,10,5,3,2   # also atsock held to these percents of one core (bench.capped; root)
    python -m bench --no-remote        # without the modem behind ser2net (bench.remote)
    python -m bench --no-line          # without the line as a user opens it (bench.linerate)
    python -m bench --no-cmux          # without two data-mode sockets at once over CMUX (bench.cmux)

Command mode runs on Quectel and on ESP-AT 1.7 (2048 bytes a send) for every rate and latency,
and on ESP-AT 2.4 (8192 bytes a send) for the paced rates.
    python -m bench --no-asyncio       # without asyncio streams against the blocking API (bench.asyncio_bench)

Results go to bench/results/latest.json and docs/bench-goodput.png.
"""
import argparse
import logging
import os
import resource
import sys
import time
from pathlib import Path

from . import asyncio_bench, capped, cgroup, cmux, floor, imports, linerate, many, pacing, remote, report, tls
from .scenarios import MIB, ROOT, Session

RATES = [115200, 921600, None]
LATENCIES = [0.0, 0.005]
LARGE_SENDS = "2.4"  # ESP-AT firmware whose AT+CIPSEND takes 8192 bytes
DATA_MODE = [(921600, 0.0), (921600, 0.005), (115200, 0.0)]
MODEM_COUNTS = [1, 2, 4, 8]
REMOTE_MODEMS = 4  # of the most modems, this many through ser2net as well


def sizes(baud, quick: bool) -> int:
    """Bytes per transfer: about ten seconds of line time (less with --quick)."""
    if baud is None:
        return MIB if quick else 4 * MIB
    seconds = 2 if quick else 10
    return max(16 * 1024, int(baud / 10 * seconds) // 1024 * 1024)


def run_one(dialect: str, baud, latency: float, quick: bool, log, firmware=None) -> dict:
    size = sizes(baud, quick)
    session = Session(dialect, baud, latency, firmware)
    try:
        log(f"{dialect}{' ' + firmware if firmware else ''} {baud or 'unthrottled'} baud, {latency * 1000:.0f} ms: "
            f"{size // 1024} KiB each way")
        result = {"dialect": dialect, "baud": baud, "latency": latency, "firmware": firmware,
                  "send_chunk": session.modem.core.commands.send_chunk,
                  "download": session.download(size), "upload": session.upload(size)}
        result["round_trips"] = session.round_trips(min(size, 256 * 1024) if baud else MIB)
        result["all_busy"] = session.all_busy(2.0 if quick else 8.0)
        return result
    finally:
        session.close()


def run_data_mode(dialect: str, baud, latency: float, quick: bool, log) -> dict:
    size = sizes(baud, quick)
    session = Session(dialect, baud, latency)
    try:
        log(f"{dialect} {baud} baud, {latency * 1000:.0f} ms, data mode: {size // 1024} KiB each way")
        return {"dialect": dialect, "baud": baud, "latency": latency,
                "download": session.data_mode_download(size), "upload": session.data_mode_upload(size)}
    finally:
        session.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers and shorter runs")
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"],
                        help="only these dialects (default: both)")
    parser.add_argument("--rate", action="append", type=int, metavar="BAUD",
                        help="only these line rates; 0 for unthrottled (default: 115200, 921600, 0)")
    parser.add_argument("--latency", action="append", type=float, metavar="SECONDS",
                        help="only these per-command latencies (default: 0 and 0.005)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench-goodput.png")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--no-tls", action="store_true", help="skip host and module TLS against plain TCP")
    parser.add_argument("--no-data-mode", action="store_true", help="skip data mode")
    parser.add_argument("--no-cmux", action="store_true", help="skip data mode on several sockets at once over CMUX")
    parser.add_argument("--no-many", action="store_true", help="skip many modems in one process")
    parser.add_argument("--no-asyncio", action="store_true", help="skip asyncio streams against the blocking API")
    parser.add_argument("--cpu-share", type=capped.parse_shares, metavar="PERCENTS",
                        help="also run atsock held to these shares of one core, e.g. 20,10,5,3,2 (needs root)")
    parser.add_argument("--cpu-plot", type=Path, default=ROOT / "docs" / "bench-cpu-share.png")
    parser.add_argument("--no-remote", action="store_true", help="skip the modem behind ser2net")
    parser.add_argument("--no-line", action="store_true",
                        help="skip the line as a user opens it (boot at 115200, switch to 921600: bench.linerate)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    with cgroup.weighted(log) as group:  # the emulators and peers ahead of other work on the machine
        return run(args, group, log)


def run(args, group, log) -> int:

    dialects = args.dialect or ["quectel", "esp8285"]
    rates = [rate or None for rate in args.rate] if args.rate else RATES
    latencies = args.latency if args.latency is not None else LATENCIES
    started = time.time()
    results = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "runs": [], "floor": {},
               "memory": {}}
    paced = [baud for baud in rates if baud]
    if paced:
        log(f"emulator UART pacing at {', '.join(map(str, paced))} baud")
        results["pacing"] = pacing.measure(paced, 1.0 if args.quick else 2.0)
    for baud in rates:
        log(f"pyserial floor at {baud or 'unthrottled'} baud")
        results["floor"][report._rate_name(baud)] = floor.measure(sizes(baud, args.quick), baud)
    for dialect in dialects:
        for baud in rates:
            for latency in latencies:
                results["runs"].append(run_one(dialect, baud, latency, args.quick, log))
        if dialect == "esp8285":
            for baud in paced:
                for latency in latencies:
                    results["runs"].append(run_one(dialect, baud, latency, args.quick, log, LARGE_SENDS))
        session = Session(dialect, None, 0.0)
        try:
            results["memory"][dialect] = session.peak_memory(MIB)
        finally:
            session.close()
    if not args.no_data_mode:
        results["data_mode"] = [run_data_mode(dialect, baud, latency, args.quick, log)
                                for dialect in dialects for baud, latency in DATA_MODE
                                if baud in rates and latency in latencies]
    if not args.no_cmux and "quectel" in dialects and 921600 in rates:
        log("CMUX at 921600 baud: two sockets in data mode at once, commands beside them; plain against CMUX")
        results["cmux"] = cmux.run_all(921600, 4.0 if args.quick else 10.0)
    if not args.no_many:
        seconds = 4.0 if args.quick else 8.0
        results["many"] = []
        for data_mode in (False, True):
            for count in MODEM_COUNTS:
                log(f"{count} modems at 921600 baud in one process, {'data' if data_mode else 'command'} mode")
                results["many"].append(many.measure(count, "quectel", 921600, seconds, data_mode=data_mode))
            if not args.no_remote:
                count = MODEM_COUNTS[-1]
                log(f"{count} modems, {REMOTE_MODEMS} through ser2net, {'data' if data_mode else 'command'} mode")
                results["many"].append(many.measure(count, "quectel", 921600, seconds, data_mode=data_mode,
                                                    remote=REMOTE_MODEMS))
    if not args.no_remote:
        results["remote"] = {"paths": remote.run(args.quick, log, dialects), "clients": remote.clients(args.quick)}
    if not args.no_tls:
        log(f"host and module TLS against plain TCP at {tls.BAUD} baud")
        results["tls"] = [tls.measure(dialect, tls.size_for(tls.BAUD, args.quick)) for dialect in dialects]
    if not args.no_asyncio:
        log("asyncio streams against the blocking API")
        results["asyncio"] = [asyncio_bench.measure(dialect, baud, args.quick)
                              for dialect in dialects for baud in asyncio_bench.RATES]
    if args.cpu_share:
        results["capped"] = capped.measure(group, dialects, args.cpu_share, [baud for baud in capped.RATES if baud in paced],
                                           capped.MODES, args.quick, log)
    if not args.no_line:
        results["line"] = linerate.run(args.quick, log, dialects)
    results["import"] = imports.measure()
    results["load_after"] = os.getloadavg()
    results["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results["seconds"] = time.time() - started

    text = report.table(results)
    print(text)
    print()
    for what, measured, target, met in report.targets(results):
        print(f"{'met   ' if met else 'MISSED'} {what}: {measured:.3f} (target {target})")
    report.write_json(results, args.output)
    drawn = report.plot(results, args.plot)
    log(f"results: {args.output}" + (f", plot: {args.plot}" if drawn else " (no matplotlib: no plot)"))
    if capped.plot(results.get("capped", {}), args.cpu_plot):
        log(f"CPU share plot: {args.cpu_plot}")
    if "line" in results:
        print(linerate.table(results["line"]))
    if args.update_readme:
        report.update_readme(ROOT / "README.md", text)
        if "line" in results:
            report.update_readme(ROOT / "README.md", linerate.table(results["line"]), linerate.README_MARKERS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
