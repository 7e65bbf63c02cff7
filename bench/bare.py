"""The least CPU one AT command in flight can cost in Python: a bare asyncio client, with no atsock.

    python -m bench.bare                 # Quectel at 921600 baud: CPU per MiB down and up, the bare client's,
                                         # atsock's and the pyserial floor's, measured in one run
    python -m bench.bare --callgrind     # and the bare client's instructions per exchange (valgrind):
                                         # bench.calls --callgrind gives atsock's

The same exchanges as atsock's command mode with the same emulator and peer (``AT+QIRD=0,1500``
until ``+QIRD: 0``; ``AT+QISEND=0,1460``, the prompt, the chunk, ``SEND OK``), each command written
from the wake-up that read the answer before, and a download's reads paced as atsock paces them
(one read for the header, one after the line time of the rest). What is left out is everything
atsock does besides: no parser (a header found with one regular expression), no URCs, no
time-outs, no socket layer, no second thread. Whatever this costs, atsock, which does all of it on
top of the same wake-ups, cannot expect to cost less: it is what bounds the CPU targets (README,
"What bounds the targets the run misses").

Bring-up and the connection are made with blocking pyserial before the measured transfer.
"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import serial

from . import floor
from .scenarios import MIB, ROOT, Session, spawn_emulator, _spawn

CHUNK = 1460
READ = b"AT+QIRD=0,1500\r"
HEADER = re.compile(rb"\+QIRD: (\d+)\r\n")
TRAILER = len(b"\r\n\r\nOK\r\n")
PAUSE_MIN = 0.002


def chat(port: serial.Serial, command: bytes, until: bytes = b"OK\r\n", seconds: float = 10.0) -> bytes:
    """Write ``command`` and read until ``until`` (blocking: bring-up only)."""
    port.write(command + b"\r")
    got, deadline = b"", time.monotonic() + seconds
    while until not in got:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{command!r}: no {until!r} in {got!r}")
        got += port.read(max(1, port.in_waiting))
    return got


def connect(tty: str, baud: int, peer_port: int, request: bytes) -> serial.Serial:
    port = serial.Serial(tty, baud, timeout=0.2)
    for _ in range(50):
        try:
            chat(port, b"AT", seconds=0.5)
            break
        except RuntimeError:
            continue
    chat(port, b"ATE0")
    chat(port, b'AT+QICSGP=1,1,"bench","","",0')
    for _ in range(100):
        if b"OK" in chat(port, b"AT+QIACT=1", until=b"\r\n", seconds=5) + port.read(16):
            break
        time.sleep(0.1)
    chat(port, b'AT+QIOPEN=1,0,"TCP","127.0.0.1",%d,0,0' % peer_port, until=b"+QIOPEN: 0,0")
    chat(port, b"AT+QISEND=0,%d" % len(request), until=b">")
    port.write(request)
    port.read_until(b"SEND OK\r\n")
    return port


class Bare(asyncio.Protocol):
    """One command in flight; ``done`` resolves with the payload bytes moved."""

    def __init__(self, loop, fd: int, rate: float, direction: str, size: int):
        self.loop, self.fd, self.rate, self.direction, self.size = loop, fd, rate, direction, size
        self.buf = bytearray()
        self.moved = 0
        self.exchanges = 0
        self.reads = 0
        self.done = loop.create_future()
        self.chunk = os.urandom(CHUNK)
        self.prompted = False

    def start(self) -> None:
        self.loop.add_reader(self.fd, self.readable)
        self.next()

    def next(self) -> None:
        self.exchanges += 1
        if self.direction == "down":
            os.write(self.fd, READ)
        else:
            self.prompted = False
            os.write(self.fd, b"AT+QISEND=0,%d\r" % CHUNK)

    def readable(self) -> None:
        self.buf += os.read(self.fd, 65536)
        self.reads += 1
        if self.direction == "down":
            self.answer()
        else:
            self.turnaround()

    def answer(self) -> None:
        match = HEADER.search(self.buf)
        if match is None:
            return
        count = int(match.group(1))
        missing = match.end() + count + TRAILER - len(self.buf)
        if missing > 0:
            pause = missing / self.rate
            if pause >= PAUSE_MIN:  # as atsock's reader: not listening until the rest can be there
                self.loop.remove_reader(self.fd)
                self.loop.call_later(pause, self.resume)
            return
        del self.buf[:match.end() + count + TRAILER]
        self.moved += count
        if count == 0 or self.moved >= self.size:
            self.done.set_result(self.moved)
        else:
            self.next()

    def resume(self) -> None:
        self.loop.add_reader(self.fd, self.readable)
        self.readable()

    def turnaround(self) -> None:
        if not self.prompted and b">" in self.buf:
            self.prompted = True
            self.buf.clear()
            os.write(self.fd, self.chunk)
        elif b"SEND OK\r\n" in self.buf:
            self.buf.clear()
            self.moved += CHUNK
            if self.moved >= self.size:
                self.done.set_result(self.moved)
            else:
                self.next()


def transfer(direction: str, baud: int, size: int) -> dict:
    """One transfer of ``size`` bytes (a multiple of the chunk up): CPU per MiB, exchanges, reads."""
    size = size // CHUNK * CHUNK if direction == "up" else size
    peer, peer_port = _spawn(["-m", "bench.peer"])
    emulator, tty = spawn_emulator("quectel", baud)
    try:
        port = connect(tty, baud, int(peer_port), b"SOURCE %d\n" % size if direction == "down" else b"SINK 0\n")
        if direction == "down":
            port.read_until(b'+QIURC: "recv",0\r\n')
        port.timeout = 0
        loop = asyncio.new_event_loop()
        bare = Bare(loop, port.fileno(), baud / 10, direction, size)
        cpu, started = time.process_time(), time.perf_counter()
        bare.start()
        moved = loop.run_until_complete(bare.done)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        loop.close()
        port.close()
        return {"direction": direction, "bytes": moved, "cpu_per_mib": cpu / (moved / MIB),
                "of_line_rate": moved / seconds / (baud / 10), "exchanges": bare.exchanges, "reads": bare.reads}
    finally:
        for process in (emulator, peer):
            process.terminate()
            process.wait(10)


def atsock(direction: str, baud: int, size: int) -> dict:
    """The same transfer through atsock's command mode (bench's session): its CPU per MiB."""
    session = Session("quectel", baud, 0.0)
    try:
        return session.download(size) if direction == "down" else session.upload(size // CHUNK * CHUNK)
    finally:
        session.close()


def instructions(direction: str, baud: int, size: int) -> dict:
    """Instructions per exchange, from transfers of ``size`` and 3 × ``size`` under callgrind."""
    runs = []
    for each in (size, 3 * size):
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(scratch, "callgrind.out")
            done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                                   "-m", "bench.bare", "--worker", json.dumps([direction, baud, each])],
                                  capture_output=True, text=True, cwd=ROOT, timeout=3600,
                                  env=dict(os.environ, PYTHONMALLOC="malloc"))
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            figures["instructions"] = int(re.search(r"^summary:\s*(\d+)", open(out).read(), re.MULTILINE).group(1))
            runs.append(figures)
    small, large = runs
    return {"instructions_per_exchange": (large["instructions"] - small["instructions"])
            / (large["exchanges"] - small["exchanges"]),
            "reads_per_exchange": (large["reads"] - small["reads"]) / (large["exchanges"] - small["exchanges"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, default=921600)
    parser.add_argument("--size", type=int, default=256 * 1024)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(transfer(*json.loads(args.worker))), flush=True)
        return 0
    base = floor.measure(args.size, args.rate)
    for direction, key in (("down", "read_cpu_per_mib"), ("up", "write_cpu_per_mib")):
        figures, theirs = transfer(direction, args.rate, args.size), atsock(direction, args.rate, args.size)
        line = (f"bare asyncio client, quectel {args.rate} {direction}: {figures['cpu_per_mib']:.3f} s CPU per MiB "
                f"({figures['cpu_per_mib'] / base[key]:.2f}× the pyserial floor's {base[key]:.3f} s), "
                f"{figures['of_line_rate'] * 100:.1f}% of the line, {figures['reads'] / figures['exchanges']:.2f} "
                f"reads per exchange; atsock {theirs['cpu_per_mib']:.3f} s "
                f"({theirs['cpu_per_mib'] / base[key]:.2f}× the floor, "
                f"{theirs['cpu_per_mib'] / figures['cpu_per_mib']:.2f}× the bare client), "
                f"{theirs['of_line_rate'] * 100:.1f}% of the line")
        if args.callgrind:
            counted = instructions(direction, args.rate, args.size)
            line += (f"; {counted['instructions_per_exchange'] / 1e3:.0f} k instructions per exchange "
                     f"(under valgrind: {counted['reads_per_exchange']:.2f} reads per exchange)")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
