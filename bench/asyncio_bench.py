"""asyncio streams against the blocking API on the same emulated link: goodput, per-message
latency, and what one crossing to the engine's loop costs, as ratios (asyncio / blocking).

    python -m bench.asyncio_bench                # both dialects, 921600 baud and unthrottled
    python -m bench.asyncio_bench --quick

One session (emulator and peer processes, modem) per dialect and line rate; the blocking and the
asyncio runs take turns on the same modem. A goodput ratio near 1 says the streams keep up with the
line; a latency ratio above 1 is what the caller's loop adds to one request/response (its two
crossings to the engine's loop and back, and its task switches).
"""
import argparse
import os
import statistics
import sys
import time

from atsock import asyncio
from atsock.asyncio import bridge

from .scenarios import MIB, Session

RATES = [921600, None]
MESSAGE = 32


def size_for(baud, quick: bool) -> int:
    if baud is None:
        return MIB // 4 if quick else MIB
    return max(16 * 1024, int(baud / 10 * (1 if quick else 4)) // 1024 * 1024)


# --- the blocking API ---------------------------------------------------------------------------
def blocking_latency(session: Session, count: int) -> list:
    sock = session.connect("ECHO")
    message, times = b"m" * MESSAGE, []
    for _ in range(count):
        started = time.perf_counter()
        sock.write(message)
        if sock.read(MESSAGE) != message:
            raise RuntimeError("echo came back wrong")
        times.append(time.perf_counter() - started)
    sock.close()
    return times


def blocking_crossings(session: Session, count: int) -> float:
    """Seconds per ``Modem.run`` of a coroutine that does nothing: the blocking API's bridge."""
    started = time.perf_counter()
    for _ in range(count):
        session.modem.run(_nothing())
    return (time.perf_counter() - started) / count


async def _nothing():
    return None


# --- the asyncio streams --------------------------------------------------------------------------
async def _connect(session: Session, verb: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", session.peer_port, modem=session.modem)
    writer.write(verb.encode() + b"\n")
    return reader, writer


async def _close(writer) -> None:
    writer.close()
    await writer.wait_closed()


async def stream_download(session: Session, size: int) -> dict:
    reader, writer = await _connect(session, f"SOURCE {size}")
    cpu, started = time.process_time(), time.perf_counter()
    received = 0
    while True:
        data = await reader.read(65536)
        if not data:
            break
        received += len(data)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await _close(writer)
    if received != size:
        raise RuntimeError(f"asyncio download came back short: {received} of {size}")
    return session._rates(size, seconds, cpu)


async def stream_upload(session: Session, size: int) -> dict:
    payload = os.urandom(size)
    reader, writer = await _connect(session, f"SINK {size}")
    cpu, started = time.process_time(), time.perf_counter()
    for start in range(0, size, 16 * 1024):
        writer.write(payload[start:start + 16 * 1024])
        await writer.drain()
    answer = await reader.readline()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await _close(writer)
    if answer != b"OK %d\n" % size:
        raise RuntimeError(f"asyncio upload not confirmed: {answer!r}")
    return session._rates(size, seconds, cpu)


async def stream_latency(session: Session, count: int) -> list:
    reader, writer = await _connect(session, "ECHO")
    message, times = b"m" * MESSAGE, []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(message)
        if await reader.readexactly(MESSAGE) != message:
            raise RuntimeError("echo came back wrong")
        times.append(time.perf_counter() - started)
    await _close(writer)
    return times


async def stream_crossings(session: Session, count: int) -> float:
    """Seconds per awaited ``Modem.submit`` of a coroutine that does nothing: the streams' bridge."""
    started = time.perf_counter()
    for _ in range(count):
        await bridge.on_engine(session.modem, _nothing())
    return (time.perf_counter() - started) / count


# --- one session ----------------------------------------------------------------------------------
def _latency(times: list) -> dict:
    return {"median_ms": statistics.median(times) * 1000, "mean_ms": statistics.fmean(times) * 1000}


def _best(runs: list) -> dict:
    """The run of median goodput among the repetitions."""
    return sorted(runs, key=lambda run: run["bytes_per_s"])[len(runs) // 2]


def measure(dialect: str, baud, quick: bool = False, repeats: int = 3) -> dict:
    """Blocking and asyncio take turns, ``repeats`` times, so that what else the machine does
    weighs on both alike; each figure is the median of its repetitions."""
    size, count = size_for(baud, quick), (100 if quick else 300)
    session = Session(dialect, baud, 0.0)
    loop = asyncio.new_event_loop()
    runs = {"blocking": {"download": [], "upload": [], "latency": []},
            "asyncio": {"download": [], "upload": [], "latency": []}}
    try:
        for _ in range(repeats):
            runs["blocking"]["download"].append(session.download(size))
            runs["asyncio"]["download"].append(loop.run_until_complete(stream_download(session, size)))
            runs["blocking"]["upload"].append(session.upload(size))
            runs["asyncio"]["upload"].append(loop.run_until_complete(stream_upload(session, size)))
            runs["blocking"]["latency"] += blocking_latency(session, count)
            runs["asyncio"]["latency"] += loop.run_until_complete(stream_latency(session, count))
        crossings = {"blocking": blocking_crossings(session, 2000) * 1e6,
                     "asyncio": loop.run_until_complete(stream_crossings(session, 2000)) * 1e6}
    finally:
        loop.close()
        session.close()
    result = {"dialect": dialect, "baud": baud, "bytes": size, "messages": count * repeats}
    for side in ("blocking", "asyncio"):
        result[side] = {"download": _best(runs[side]["download"]), "upload": _best(runs[side]["upload"]),
                        "latency": _latency(runs[side]["latency"]), "crossing_us": crossings[side]}
    streamed, blocking = result["asyncio"], result["blocking"]
    result["asyncio_vs_blocking"] = {
        "download": streamed["download"]["bytes_per_s"] / blocking["download"]["bytes_per_s"],
        "upload": streamed["upload"]["bytes_per_s"] / blocking["upload"]["bytes_per_s"],
        "latency": streamed["latency"]["median_ms"] / blocking["latency"]["median_ms"]}
    return result


def summary(runs) -> list:
    """One line per run, for the benchmark's report."""
    lines = []
    for run in runs:
        ratio, blocking, streamed = run["asyncio_vs_blocking"], run["blocking"], run["asyncio"]
        line = run["baud"] or "unthrottled"
        lines.append(f"- {run['dialect']} {line}: asyncio / blocking goodput {ratio['download']:.3f} down, "
                     f"{ratio['upload']:.3f} up ({run['bytes'] // 1024} KiB); {MESSAGE}-byte request/response "
                     f"latency {ratio['latency']:.2f}× ({streamed['latency']['median_ms']:.2f} ms against "
                     f"{blocking['latency']['median_ms']:.2f} ms, median of {run['messages']}); one crossing "
                     f"to the engine {streamed['crossing_us']:.0f} µs awaited, {blocking['crossing_us']:.0f} µs "
                     f"blocking")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.asyncio_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers, fewer messages")
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    parser.add_argument("--rate", action="append", type=int, metavar="BAUD", help="0 for unthrottled")
    args = parser.parse_args(argv)
    rates = [rate or None for rate in args.rate] if args.rate else RATES
    runs = [measure(dialect, baud, args.quick) for dialect in args.dialect or ["quectel", "esp8285"]
            for baud in rates]
    print("\n".join(summary(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
