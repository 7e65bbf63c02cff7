"""atsock on a slow CPU: its process held to a share of one core, the emulator and peer uncapped.

    python -m bench --cpu-share 20,10,5,3,2     # with the rest of the benchmarks
    python -m bench.capped --share 3 --dialect quectel --rate 921600 --quick

Each run is a worker process (``python -m bench.capped --worker SPEC``): it starts its emulator and
peer while still in the helpers' group (uncapped, weighted ahead of other work on the machine, and
real-time where cgroup v1 allows it, so that the emulated line keeps time on a busy machine), then
moves itself into the capped group and onto one CPU (so that its threads share the one quota, as on
one core), and only then opens the modem and measures: download, upload and a
32-byte round trip, in command mode, in data mode and through the asyncio streams. Wake-ups are
counted twice: the port's reads that returned data (the engine's own count) and the process's
voluntary context switches (``getrusage``), which also count the caller's thread and the kernel's
wake-ups that found nothing to do.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from . import cgroup

SHARES = [20, 10, 5, 3, 2]  # percent of one core
RATES = [921600, 115200]
MODES = ["command", "data", "asyncio"]
ROUND_TRIPS = 100
MIB = 2 ** 20
# What a share of this machine's core stands for (README: how it was estimated): the Python speed
# of one core of each Pi, as a fraction of this machine's.
PI_SPEED = {"Pi Zero 2 W": 0.06, "Pi 3 B+": 0.085, "Pi 4": 0.17, "Pi 5": 0.45}


def size_for(baud: int, quick: bool) -> int:
    """About three seconds of line time each way (one with --quick)."""
    return max(16 * 1024, int(baud / 10 * (1 if quick else 3)) // 1024 * 1024)


def pi_equivalent(share) -> str:
    """``share`` of this core as the busy fraction of a Pi's core that does the same work."""
    if share is None:
        return "uncapped"
    return ", ".join(f"{name} {min(1.0, share / speed) * 100:.0f}%" for name, speed in PI_SPEED.items()
                     if share / speed <= 1.0) or "faster than a Pi 5's core"


# --- the worker ------------------------------------------------------------------------------------
def _counted(session, measure) -> dict:
    """Run ``measure()`` (a download or upload result) and add wake-ups per MiB."""
    before, reads = resource.getrusage(resource.RUSAGE_SELF), session.modem.stats.get("reads", 0)
    result = measure()
    after = resource.getrusage(resource.RUSAGE_SELF)
    mib = result["bytes"] / MIB
    result["reads_per_mib"] = (session.modem.stats.get("reads", 0) - reads) / mib if "reads" in session.modem.stats \
        else None
    result["switches_per_mib"] = (after.ru_nvcsw - before.ru_nvcsw) / mib
    return result


def _median_ms(times) -> float:
    return statistics.median(times) * 1000


def work(spec: dict) -> dict:
    from .scenarios import Session  # (imports atsock: after the move, so the capped CPU pays for nothing else)
    helpers = cgroup.Group(spec["helpers"], spec["v2"])
    capped = cgroup.Group(spec["group"], spec["v2"])
    helpers.enter()
    if spec["realtime"]:  # the emulator and the peer inherit it: their line keeps time whatever else runs
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))

    def confine():  # they are started: from here on this process alone is capped, as an ordinary task
        if spec["realtime"]:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        capped.enter()
        os.sched_setaffinity(0, {spec["cpu"]})

    session = Session(spec["dialect"], spec["baud"], 0.0, before_open=confine)
    throttled = capped.throttled()
    size, mode = spec["size"], spec["mode"]
    result = {key: spec[key] for key in ("dialect", "baud", "share", "mode")}
    try:
        if mode == "command":
            from .asyncio_bench import blocking_latency
            result["download"] = _counted(session, lambda: session.download(size))
            result["upload"] = _counted(session, lambda: session.upload(size))
            result["round_trip_ms"] = _median_ms(blocking_latency(session, ROUND_TRIPS))
        elif mode == "data":
            result["download"] = _counted(session, lambda: session.data_mode_download(size))
            result["upload"] = _counted(session, lambda: session.data_mode_upload(size))
        else:
            from atsock import asyncio
            from .asyncio_bench import stream_download, stream_latency, stream_upload
            loop = asyncio.new_event_loop()
            try:
                result["download"] = _counted(session, lambda: loop.run_until_complete(stream_download(session, size)))
                result["upload"] = _counted(session, lambda: loop.run_until_complete(stream_upload(session, size)))
                result["round_trip_ms"] = _median_ms(loop.run_until_complete(stream_latency(session, ROUND_TRIPS)))
            finally:
                loop.close()
    finally:
        session.close()
    after = capped.throttled()
    periods = after["periods"] - throttled["periods"]
    result["throttled"] = (after["throttled"] - throttled["throttled"]) / periods if periods else 0.0
    return result


# --- the driver ------------------------------------------------------------------------------------
def measure(top, dialects, shares, rates, modes, quick: bool, log) -> dict:
    """Every (dialect, line rate, mode) uncapped and at each share (percent); data mode and asyncio
    at the fastest rate only, in groups under ``top`` (:func:`cgroup.weighted`). Returns the runs,
    or the reason none could be made."""
    if top is None:
        reason = cgroup.available() or "no benchmark group"
        log(f"capped runs skipped: {reason}")
        return {"skipped": reason, "runs": []}
    helpers, capped = cgroup.Group.make("helpers", top), cgroup.Group.make("atsock", top)
    helpers.weigh(cgroup.HIGH_WEIGHT)
    capped.weigh(cgroup.HIGH_WEIGHT)
    realtime = top.allow_realtime() and helpers.allow_realtime()
    cpu = max(os.sched_getaffinity(0))
    runs = []
    try:
        for dialect in dialects:
            for baud in rates:
                for mode in (modes if baud == max(rates) else ["command"]):
                    for share in [None] + sorted(shares, reverse=True):
                        capped.cap(share / 100 if share else None)
                        log(f"{dialect} {baud} baud, {mode}, atsock at {f'{share}%' if share else 'uncapped'}")
                        spec = {"dialect": dialect, "baud": baud, "mode": mode, "share": share,
                                "size": size_for(baud, quick), "helpers": str(helpers.path),
                                "group": str(capped.path), "v2": capped.v2, "cpu": cpu, "realtime": realtime}
                        runs.append(_run_worker(spec))
    finally:
        for group in (capped, helpers):
            group.remove()
    return {"runs": runs, "cpu": cpu, "load": os.getloadavg(), "realtime": realtime}


def _run_worker(spec: dict) -> dict:
    process = subprocess.run([sys.executable, "-m", "bench.capped", "--worker", json.dumps(spec)],
                             capture_output=True, text=True, timeout=900,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if process.returncode != 0:
        raise RuntimeError(f"capped run {spec} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def _pct(value) -> str:
    return f"{value * 100:.1f}%"


def table(capped: dict) -> str:
    runs = capped.get("runs", [])
    if not runs:
        return ""
    rows = ["| dialect | line (baud) | mode | atsock's CPU (what it stands for) | download | upload | "
            "32-byte round trip | CPU/MiB down, up | wake-ups/MiB down, up: port reads (context switches) | "
            "throttled periods |", "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        down, up = run["download"], run["upload"]
        share = f"{run['share']}% ({pi_equivalent(run['share'] / 100)})" if run["share"] else "uncapped"
        wakes = ", ".join(f"{r['reads_per_mib']:.0f} ({r['switches_per_mib']:.0f})" if r["reads_per_mib"] is not None
                          else f"— ({r['switches_per_mib']:.0f})" for r in (down, up))
        trip = f"{run['round_trip_ms']:.2f} ms" if "round_trip_ms" in run else "—"
        rows.append(f"| {run['dialect']} | {run['baud']} | {run['mode']} | {share} | {_pct(down['of_line_rate'])} | "
                    f"{_pct(up['of_line_rate'])} | {trip} | {down['cpu_per_mib']:.3f}s, {up['cpu_per_mib']:.3f}s | "
                    f"{wakes} | {run['throttled'] * 100:.0f}% |")
    load = capped.get("load")
    if load:
        rows += ["", f"- load average when the capped runs ended: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} "
                     f"(2 cores); atsock pinned to CPU {capped['cpu']}; emulator and peer "
                     + ("real-time (SCHED_FIFO 1)" if capped.get("realtime") else "weighted only")]
    return "\n".join(rows)


def targets(capped: dict, check) -> None:
    """The issue's goodput targets at 921600 baud under the cap."""
    for run in capped.get("runs", []):
        if run["baud"] == 921600 and run["share"] in (3, 2):
            goal = 0.95 if run["share"] == 3 else 0.90
            for direction in ("download", "upload"):
                check(f"{run['dialect']} {run['mode']} at {run['share']}% of a core, {direction}",
                      run[direction]["of_line_rate"], goal)


def plot(capped: dict, path) -> bool:
    """Goodput against atsock's CPU share, a panel per line rate; False without matplotlib or runs."""
    runs = capped.get("runs", [])
    if not runs:
        return False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rates = sorted({run["baud"] for run in runs}, reverse=True)
    uncapped_at = 100
    figure, axes = plt.subplots(1, len(rates), figsize=(6 * len(rates), 6), sharey=True, squeeze=False)
    labels = sorted({(run["dialect"], run["mode"]) for run in runs})
    for axis, baud in zip(axes[0], rates):
        for index, (dialect, mode) in enumerate(labels):
            for direction, marker, style in (("download", "o", "-"), ("upload", "s", ":")):
                points = sorted((run["share"] or uncapped_at, run[direction]["of_line_rate"] * 100) for run in runs
                                if (run["dialect"], run["mode"], run["baud"]) == (dialect, mode, baud))
                if points:
                    xs, ys = zip(*points)
                    axis.plot(xs, ys, style, marker=marker, color=f"C{index}", label=f"{dialect} {mode}, {direction}")
        axis.axhline(95, color="k", linestyle="--", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_xticks([2, 3, 5, 10, 20, uncapped_at])
        axis.set_xticklabels(["2%", "3%", "5%", "10%", "20%", "uncapped"])
        axis.set_xlabel("atsock's CPU: share of one core of this machine")
        axis.set_title(f"{baud} baud")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("goodput (% of the line rate)")
    handles, names = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, names, fontsize=7, loc="lower center", ncol=3, frameon=False)
    figure.suptitle("atsock on a slow CPU: goodput against its CPU share (emulator and peer uncapped)")
    figure.tight_layout(rect=(0, 0.18, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def parse_shares(text: str) -> list:
    return [float(part) if "." in part else int(part) for part in text.split(",") if part.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capped", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--share", default=",".join(map(str, SHARES)), help="percent of one core, comma-separated")
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    parser.add_argument("--rate", action="append", type=int, metavar="BAUD")
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(work(json.loads(args.worker))), flush=True)
        return 0
    started = time.time()

    def log(message):
        print(message, file=sys.stderr, flush=True)

    with cgroup.weighted(log) as top:
        result = measure(top, args.dialect or ["quectel", "esp8285"], parse_shares(args.share), args.rate or RATES,
                         args.mode or MODES, args.quick, log)
    print(table(result) or result.get("skipped", ""))
    print(f"({time.time() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
