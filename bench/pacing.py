"""How closely the emulator's UART paces bytes against an ideal line, in both directions.

    python -m bench.pacing [--rate 115200 --rate 921600] [--seconds 2]

Module to host: a burst handed to the emulator's UART at t0 is read from the pty by this
process; byte k (counting from 1) ideally arrives when its stop bit ends, at t0 + k / (baud/10).
Host to module: a burst written to the pty at t0 ideally reaches the module at the same times; the
UART reports when it hands bytes over. A byte's timing error is its arrival minus its ideal time
(every byte of a chunk arrives with the chunk). Reported: the delivered rate as a share of the line
rate, and the error's mean, median and 99th percentile of its magnitude and its worst case, in ms.
"""
import argparse
import json
import os
import random
import sys
import threading
import time
import tty
from typing import List, Tuple

from fakemodem import FakeModem

RATES = [115200, 921600]


def _errors(arrivals: List[Tuple[float, int]], t0: float, rate: float) -> List[float]:
    """Per-byte timing errors (seconds) from (arrival time, bytes so far) pairs."""
    errors, before = [], 0
    for arrived, upto in arrivals:
        errors.extend(arrived - (t0 + k / rate) for k in range(before + 1, upto + 1))
        before = upto
    return errors


def _summary(arrivals: List[Tuple[float, int]], t0: float, rate: float, size: int) -> dict:
    errors = _errors(arrivals, t0, rate)
    magnitudes = sorted(abs(e) for e in errors)
    first_time, first_count = arrivals[0]
    last_time = arrivals[-1][0]
    span = last_time - first_time
    delivered = (size - first_count) / span / rate if span > 0 else None
    return {"bytes": size, "chunks": len(arrivals), "rate_of_line": delivered,
            "mean_error_ms": 1000 * sum(errors) / len(errors),
            "median_abs_error_ms": 1000 * magnitudes[len(magnitudes) // 2],
            "p99_abs_error_ms": 1000 * magnitudes[int(len(magnitudes) * 0.99)],
            "max_abs_error_ms": 1000 * magnitudes[-1]}


def _open_host_end(fm: FakeModem) -> int:
    fd = os.open(fm.port, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    os.set_blocking(fd, False)
    deadline = time.monotonic() + 0.5  # let the boot URCs come and go
    while time.monotonic() < deadline:
        try:
            os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.01)
    os.set_blocking(fd, True)
    return fd


def module_to_host(baud: int, seconds: float) -> dict:
    rate = baud / 10
    size = int(rate * seconds)
    payload = bytes(random.Random(1).randrange(0x20, 0x7F) for _ in range(size))
    with FakeModem("quectel", baudrate=baud) as fm:
        fd = _open_host_end(fm)
        arrivals = []

        def read_all():
            got = 0
            while got < size:
                got += len(os.read(fd, 65536))
                arrivals.append((time.monotonic(), got))

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()

        def start():
            began = fm.loop.time()  # the loop's clock is time.monotonic()
            fm.uart.write(payload)
            return began

        t0 = fm.call(start)
        reader.join(seconds * 3 + 10)
        os.close(fd)
    return _summary(arrivals, t0, rate, size)


def host_to_module(baud: int, seconds: float) -> dict:
    rate = baud / 10
    size = int(rate * seconds)
    payload = bytes(random.Random(2).randrange(0x20, 0x7F) for _ in range(size))  # no line ends: no commands
    with FakeModem("quectel", baudrate=baud) as fm:
        fd = _open_host_end(fm)
        arrivals, got = [], [0]
        done = threading.Event()

        def delivered(when, count):
            got[0] += count
            arrivals.append((when, got[0]))
            if got[0] >= size:
                done.set()

        fm.call(setattr, fm.uart, "on_delivered_in", delivered)
        t0 = time.monotonic()
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        done.wait(seconds * 3 + 10)
        fm.call(setattr, fm.uart, "on_delivered_in", None)
        os.close(fd)
    return _summary(arrivals, t0, rate, size)


def measure(rates=RATES, seconds: float = 2.0) -> dict:
    """Both directions at each rate: {"115200": {"module_to_host": {...}, "host_to_module": {...}}}."""
    return {str(baud): {"module_to_host": module_to_host(baud, seconds),
                        "host_to_module": host_to_module(baud, seconds)} for baud in rates}


def describe(results: dict) -> str:
    lines = []
    for baud, directions in results.items():
        for direction, s in directions.items():
            lines.append(f"{baud} baud {direction.replace('_', ' ')}: {s['rate_of_line'] * 100:.2f}% of the line, "
                         f"error mean {s['mean_error_ms']:+.3f} ms, median |e| {s['median_abs_error_ms']:.3f} ms, "
                         f"p99 |e| {s['p99_abs_error_ms']:.3f} ms, max |e| {s['max_abs_error_ms']:.3f} ms "
                         f"({s['chunks']} chunks)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pacing", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", action="append", type=int, metavar="BAUD", help="default: 115200 and 921600")
    parser.add_argument("--seconds", type=float, default=2.0, help="line time per burst")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if any(rate <= 0 for rate in args.rate or []) or not args.seconds > 0:
        parser.error("rates and seconds must be positive")
    results = measure(args.rate or RATES, args.seconds)
    print(json.dumps(results, indent=2) if args.json else describe(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
