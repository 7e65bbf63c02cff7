"""The pyserial floor: the CPU it takes to move the same bytes over a pty with plain pyserial.

A helper process (``python -m bench.floor SIZE BAUD``) owns the other end of a fresh pty: it
writes SIZE bytes paced at BAUD (as the emulator does) and then reads SIZE bytes. The benchmark
process reads and writes them with pyserial and counts only its own CPU time.
"""
import os
import subprocess
import sys
import time
import tty

import serial

TICK = 0.001  # the emulator's UART hands bytes over about every millisecond (fakemodem/uart.py)


def _paced_write(fd: int, data: bytes, rate) -> None:
    step = max(1, int(rate * TICK)) if rate else len(data)
    for start in range(0, len(data), step):
        view = data[start:start + step]
        while view:
            view = view[os.write(fd, view):]
        if rate:
            time.sleep(len(data[start:start + step]) / rate)


def _paced_read(fd: int, size: int, rate) -> None:
    step = max(1, int(rate * TICK)) if rate else 65536
    got = 0
    while got < size:
        data = os.read(fd, min(step, size - got))
        got += len(data)
        if rate:
            time.sleep(len(data) / rate)


def helper(size: int, baud: int) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    print(os.ttyname(slave), flush=True)
    sys.stdin.readline()  # the benchmark has opened the port
    rate = baud / 10 if baud else None
    _paced_write(master, os.urandom(size), rate)
    _paced_read(master, size, rate)
    os.close(slave)


def measure(size: int, baud) -> dict:
    """CPU seconds per MiB for pyserial to read, then write, ``size`` bytes at ``baud``."""
    process = subprocess.Popen([sys.executable, "-m", "bench.floor", str(size), str(baud or 0)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    port = serial.Serial(process.stdout.readline().strip(), timeout=None)
    process.stdin.write("go\n")
    process.stdin.flush()
    started = time.process_time()
    got = 0
    while got < size:
        got += len(port.read(max(1, port.in_waiting)))
    read_cpu = time.process_time() - started
    payload = os.urandom(size)
    started = time.process_time()
    for offset in range(0, size, 4096):
        port.write(payload[offset:offset + 4096])
    port.flush()
    write_cpu = time.process_time() - started
    process.wait(600)
    port.close()
    mib = size / 2 ** 20
    return {"read_cpu_per_mib": read_cpu / mib, "write_cpu_per_mib": write_cpu / mib}


if __name__ == "__main__":
    helper(int(sys.argv[1]), int(sys.argv[2]))
