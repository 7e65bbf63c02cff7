"""Soak: thousands of open/transfer/close cycles on one modem, looking for leaks.

Each cycle opens a TCP socket, echoes a few KiB, closes it; every 10th cycle also does a UDP round
trip, every 25th accepts a connection on a listener, every 7th tries a refused connect right before
its echo, every 5th sends to a server that closes after reading, and every 50th closes a socket
while another thread is still sending on it. Threads, open descriptors, the modem's ids (driver and
emulator side) and traced Python memory are compared before and after.

    python -m bench.soak --cycles 3000 [--dialect esp8285]
The test suite runs a shorter soak (tests/test_soak.py).
"""
import argparse
import gc
import os
import socket
import sys
import threading
import time
import tracemalloc

import atsock
from fakemodem import FakeModem

WIFI = {"ssid": "lab", "key": "pw"}


class EchoServers:
    """A TCP and a UDP echo server on 127.0.0.1."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.closer = socket.socket()  # reads one request, then closes
        self.closer.bind(("127.0.0.1", 0))
        self.closer.listen(64)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.refused_port = probe.getsockname()[1]
        probe.close()
        threading.Thread(target=self._close_after_reading, daemon=True).start()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._datagrams, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        conn.sendall(data)
                except OSError:
                    pass

    def _close_after_reading(self):
        while True:
            try:
                conn, _ = self.closer.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(10)
                    conn.recv(100)
                except OSError:
                    pass

    def _datagrams(self):
        while True:
            try:
                data, sender = self.udp.recvfrom(65536)
                self.udp.sendto(data, sender)
            except OSError:
                return

    def close(self):
        self.tcp.close()
        self.closer.close()
        self.udp.close()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def driver_bytes() -> int:
    """Traced memory outside the in-process emulator and this harness (whose logs may grow)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, "*/fakemodem/*"), tracemalloc.Filter(False, "*/bench/*"),
        tracemalloc.Filter(False, tracemalloc.__file__)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def cycle(modem, servers, index: int) -> None:
    payload = os.urandom(1024 + index % 3072)
    if index % 7 == 0:
        with modem.socket() as refused:
            try:
                refused.connect(("127.0.0.1", servers.refused_port))
                raise RuntimeError(f"cycle {index}: a connect to a closed port succeeded")
            except ConnectionRefusedError:
                pass
    if index % 5 == 0:
        with modem.socket() as sock:
            sock.settimeout(10)
            sock.connect(servers.closer.getsockname())
            sock.sendall(b"request %d" % index)
            if sock.recv(10) != b"":
                raise RuntimeError(f"cycle {index}: no end of stream from a closing server")
    if index % 50 == 0:
        close_while_sending(modem, servers, index)
    with modem.socket() as sock:
        sock.settimeout(10)
        sock.connect(servers.tcp.getsockname())
        sock.write(payload)
        if sock.read(len(payload)) != payload:
            raise RuntimeError(f"cycle {index}: echo differs")
    if index % 10 == 0:
        with modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM) as udp:
            udp.settimeout(10)
            udp.sendto(payload[:512], servers.udp.getsockname())
            if udp.recv(1024) != payload[:512]:
                raise RuntimeError(f"cycle {index}: datagram differs")
    if index % 25 == 0:
        with modem.socket() as listener:
            listener.settimeout(10)
            listener.bind(("", 0))
            listener.listen(1)
            client = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=10)
            conn, _ = listener.accept()
            client.close()
            conn.close()


def close_while_sending(modem, servers, index: int) -> None:
    """A socket closed by one thread while another sends on it: the sender gets an OSError."""
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(servers.tcp.getsockname())
    outcome = []

    def send():
        try:
            sock.sendall(b"s" * 200_000)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.005)
    sock.close()
    sender.join(30)
    if sender.is_alive() or not outcome:
        raise RuntimeError(f"cycle {index}: the sender did not stop when its socket was closed")


def soak(dialect: str, cycles: int, warm_up: int = 20) -> dict:
    servers = EchoServers()
    options = {"networks": {WIFI["ssid"]: WIFI["key"]}} if dialect == "esp8285" else {}
    settings = dict(WIFI) if dialect == "esp8285" else {"apn": "internet"}
    try:
        with FakeModem(dialect, **options) as fm, atsock.open_modem(fm.port, dialect=dialect, **settings) as modem:
            for index in range(warm_up):  # caches, lazy imports, first-use allocations
                cycle(modem, servers, index)
            tracemalloc.start()

            def measure():
                gc.collect()
                deadline = time.monotonic() + 2  # the echo server closes its side a moment later
                while open_descriptors() != baseline_fds and time.monotonic() < deadline:
                    time.sleep(0.02)
                return {"threads": threading.active_count(), "descriptors": open_descriptors(),
                        "traced_bytes": driver_bytes()}

            baseline_fds = open_descriptors()

            before = measure()
            started = time.perf_counter()
            for index in range(cycles // 2):
                cycle(modem, servers, index)
            middle = measure()
            for index in range(cycles // 2, cycles):
                cycle(modem, servers, index)
            seconds = time.perf_counter() - started
            after = measure()
            tracemalloc.stop()
            return {"dialect": dialect, "cycles": cycles, "seconds": seconds, "before": before, "middle": middle,
                    "after": after,
                    "growth_per_cycle": (after["traced_bytes"] - middle["traced_bytes"]) / max(1, cycles - cycles // 2),
                    "driver_links_left": len(modem.socket_ids()), "module_ids_left": len(fm.call(fm.module.open_ids)),
                    "commands": modem.stats["commands"]}
    finally:
        servers.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3000)
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    args = parser.parse_args(argv)
    for dialect in args.dialect or ["quectel", "esp8285"]:
        r = soak(dialect, args.cycles)
        print(f"{dialect}: {r['cycles']} cycles in {r['seconds']:.1f} s ({r['commands']} AT commands); "
              f"threads {r['before']['threads']} -> {r['after']['threads']}, "
              f"descriptors {r['before']['descriptors']} -> {r['after']['descriptors']}, "
              f"traced memory {r['before']['traced_bytes'] / 1024:.0f} -> {r['middle']['traced_bytes'] / 1024:.0f} -> "
              f"{r['after']['traced_bytes'] / 1024:.0f} KiB (second half: {r['growth_per_cycle']:.0f} bytes a cycle), "
              f"links left {r['driver_links_left']} (driver) / {r['module_ids_left']} (module)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
