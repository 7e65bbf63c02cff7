"""Where atsock's CPU goes per AT exchange: function calls, and machine instructions, per fetch and per chunk.

    python -m bench.calls                          # both dialects at 921600 baud, down and up
    python -m bench.calls --dialect quectel --top 40   # and the functions called most, per exchange
    python -m bench.calls --callgrind              # also instructions per MiB and per exchange (valgrind)

A session as the benchmark's (emulator and peer in processes of their own) downloads and uploads;
cProfile counts every call in atsock's process meanwhile, on the engine's loop thread and on the
caller's: Python functions, and C functions called from Python (``len``, ``os.read``...). Divided by
the exchanges (fetch commands down, send commands up) with the port's reads per exchange beside
them, since a call count is mostly a count of wake-ups times the Python each one runs.

CPU seconds move with the load on a shared machine; instructions do not. ``--callgrind`` runs the
same transfer under ``valgrind --tool=callgrind`` twice, of ``size`` and of three times ``size``
bytes, and divides the difference by the extra bytes: start-up, imports and bring-up cancel out,
and what is left is what each further MiB costs (the emulator and the peer are outside valgrind).
Under valgrind atsock runs tens of times slower than the line, so its reads take more at a time
than at full speed: the reads per exchange are printed for that run too.
"""
import argparse
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading

from .scenarios import MIB, ROOT, Session

FETCHES = ("AT+QIRD", "AT+CIPRECVDATA")
SENDS = ("AT+QISEND", "AT+CIPSEND")
CASES = [("quectel", None), ("esp8285", None), ("esp8285", "2.4")]


def _transfer(session: Session, direction: str, size: int) -> dict:
    return session.download(size) if direction == "down" else session.upload(size)


def _exchanges(session: Session, before: dict, direction: str) -> int:
    names = FETCHES if direction == "down" else SENDS
    counts = session.modem.engine.stats.by_name
    return sum(counts[name] - before.get(name, 0) for name in names)


def counted(session: Session, direction: str, size: int, top: int = 0) -> dict:
    """One transfer with cProfile on both of atsock's threads: calls per exchange."""
    loop = session.modem._thread.loop
    engine, caller = cProfile.Profile(), cProfile.Profile()
    stopped = threading.Event()
    by_name, reads = dict(session.modem.engine.stats.by_name), session.modem.stats["reads"]
    loop.call_soon_threadsafe(engine.enable)
    caller.enable()
    result = _transfer(session, direction, size)
    caller.disable()
    loop.call_soon_threadsafe(lambda: (engine.disable(), stopped.set()))
    stopped.wait(10)
    exchanges = _exchanges(session, by_name, direction)
    python = builtin = 0
    per_function = {}
    for profile in (engine, caller):
        for (path, line, name), figures in pstats.Stats(profile).stats.items():
            calls = figures[1]
            if path == "~":
                builtin += calls
            else:
                python += calls
            where = name if path == "~" else f"{os.path.basename(path)}:{line}({name})"
            per_function[where] = per_function.get(where, 0) + calls
    return {"direction": direction, "bytes": size, "exchanges": exchanges,
            "reads_per_exchange": (session.modem.stats["reads"] - reads) / exchanges,
            "python_calls": python / exchanges, "c_calls": builtin / exchanges,
            "calls": (python + builtin) / exchanges,
            "top": sorted(((calls / exchanges, where) for where, calls in per_function.items()), reverse=True)[:top]}


def plain(session: Session, direction: str, size: int) -> dict:
    """One transfer without a profiler (the run valgrind counts): exchanges and reads."""
    by_name, reads = dict(session.modem.engine.stats.by_name), session.modem.stats["reads"]
    result = _transfer(session, direction, size)
    exchanges = _exchanges(session, by_name, direction)
    return {"direction": direction, "bytes": size, "exchanges": exchanges,
            "reads": session.modem.stats["reads"] - reads, "cpu_per_mib": result["cpu_per_mib"]}


# --- instructions ------------------------------------------------------------------------------
def _valgrind_run(dialect, firmware, baud, direction, size) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "callgrind.out")
        spec = json.dumps({"dialect": dialect, "firmware": firmware, "baud": baud, "direction": direction,
                           "size": size})
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no",
                               sys.executable, "-m", "bench.calls", "--worker", spec],
                              capture_output=True, text=True, cwd=ROOT, timeout=3600,
                              env=dict(os.environ, PYTHONMALLOC="malloc"))
        if done.returncode != 0:
            raise RuntimeError(f"valgrind run failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        summary = re.search(r"^summary:\s*(\d+)", open(out).read(), re.MULTILINE)
        figures["instructions"] = int(summary.group(1))
        return figures


def instructions(dialect, firmware, baud, direction, size) -> dict:
    """Instructions per MiB and per exchange: the difference between a transfer of 3×size and one of size."""
    small = _valgrind_run(dialect, firmware, baud, direction, size)
    large = _valgrind_run(dialect, firmware, baud, direction, 3 * size)
    extra = large["bytes"] - small["bytes"]
    exchanges = large["exchanges"] - small["exchanges"]
    delta = large["instructions"] - small["instructions"]
    return {"direction": direction, "instructions_per_mib": delta / (extra / MIB),
            "instructions_per_exchange": delta / exchanges,
            "reads_per_exchange": (large["reads"] - small["reads"]) / exchanges}


def _worker(spec: dict) -> dict:
    session = Session(spec["dialect"], spec["baud"], 0.0, spec["firmware"])
    try:
        return plain(session, spec["direction"], spec["size"])
    finally:
        session.close()


def _name(dialect, firmware) -> str:
    return f"{dialect} (ESP-AT {firmware})" if firmware else dialect


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calls", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    parser.add_argument("--rate", type=int, default=921600, help="line rate (baud; 0 for unthrottled)")
    parser.add_argument("--size", type=int, default=256 * 1024, help="bytes each way")
    parser.add_argument("--top", type=int, default=0, help="also the functions called most, per exchange")
    parser.add_argument("--callgrind", action="store_true", help="also instructions (valgrind; slow)")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))), flush=True)
        return 0
    baud = args.rate or None
    for dialect, firmware in CASES:
        if args.dialect and dialect not in args.dialect:
            continue
        session = Session(dialect, baud, 0.0, firmware)
        try:
            for direction in ("down", "up"):
                figures = counted(session, direction, args.size, args.top)
                print(f"{_name(dialect, firmware)} {baud or 'unthrottled'} {direction}: {figures['calls']:.0f} calls "
                      f"per exchange ({figures['python_calls']:.0f} Python, {figures['c_calls']:.0f} C), "
                      f"{figures['reads_per_exchange']:.2f} reads per exchange, {figures['exchanges']} exchanges",
                      flush=True)
                for calls, where in figures["top"]:
                    print(f"    {calls:7.2f}  {where}")
        finally:
            session.close()
        if args.callgrind:
            for direction in ("down", "up"):
                figures = instructions(dialect, firmware, baud, direction, args.size)
                print(f"{_name(dialect, firmware)} {baud or 'unthrottled'} {direction}: "
                      f"{figures['instructions_per_mib'] / 1e6:.0f} M instructions per MiB, "
                      f"{figures['instructions_per_exchange'] / 1e3:.0f} k per exchange "
                      f"(under valgrind: {figures['reads_per_exchange']:.2f} reads per exchange)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
