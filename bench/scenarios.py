"""One benchmark session: an emulator process, a peer process, atsock in this process; and the
measurements made on it. CPU figures are this process's own (driver and caller threads alike)."""
import hashlib
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import atsock
from fakemodem.ser2net import Ser2net

ROOT = Path(__file__).resolve().parent.parent
WIFI = {"ssid": "bench-net", "key": "bench-key"}
MIB = 2 ** 20


def _spawn(args):
    process = subprocess.Popen([sys.executable] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=ROOT)
    return process, process.stdout.readline().strip()


def spawn_emulator(dialect: str, baud, latency: float = 0.0, firmware=None, extra_args=()):
    """An emulator process; returns it and the pty path."""
    args = ["-m", "fakemodem", dialect, "--host", "peer.test=127.0.0.1", "--latency", str(latency)]
    if baud:
        args += ["--baudrate", str(baud)]
    if dialect == "esp8285":
        args += ["--network", f"{WIFI['ssid']}={WIFI['key']}"]
    if firmware:
        args += ["--firmware", firmware]
    return _spawn(args + list(extra_args))


def open_modem(dialect: str, tty: str, baud, **extra):
    settings = dict(apn="bench") if dialect == "quectel" else dict(WIFI)
    if baud:  # the line's rate: data mode's guard times count line time (and RFC 2217 sets it remotely)
        settings["baudrate"] = baud
    return atsock.open_modem(tty, dialect=dialect, **dict(settings, **extra))


class Remote:
    """The emulator's pty behind ser2net on loopback (RFC 2217), and with ``delay`` a relay that
    holds every piece that long each way (bench.delay): a modem on another machine."""

    def __init__(self, tty: str, delay: float = 0.0, tuned: bool = True):
        self.server = Ser2net(tty, tuned=tuned)
        self.relay = None
        self.url = self.server.url
        if delay:
            self.relay, port = _spawn(["-m", "bench.delay", str(self.server.port), str(delay)])
            self.url = f"rfc2217://127.0.0.1:{port}"

    @property
    def pids(self):
        return [p.pid for p in (self.server.process, self.relay) if p is not None]

    def close(self) -> None:
        if self.relay is not None:
            self.relay.terminate()
            self.relay.wait(10)
        self.server.close()


class Session:
    """``remote``: None for the pty itself, else the one-way delay (seconds) of a ser2net path
    (:class:`Remote`), ser2net tuned as docs/remote.md says unless ``ser2net_defaults``.
    ``before_open()`` runs once the peer and emulator processes are started (bench.capped caps this
    process there, leaving them out of it). ``settings`` go to ``open_modem``, after ``baud``
    (bench.linerate: a module booting at ``baud`` opened at another rate; bench.cmux: cmux=True)."""

    def __init__(self, dialect: str, baud, latency: float, firmware=None, emulator_args=(), remote=None,
                 ser2net_defaults: bool = False, url_options: str = "", before_open=None, **settings):
        self.dialect, self.baud, self.latency, self.firmware = dialect, baud, latency, firmware
        self.line_rate = baud / 10 if baud else None  # bytes per second, 10 bits a byte
        self.peer, port = _spawn(["-m", "bench.peer"])
        self.peer_port = int(port)
        self.emulator, tty = spawn_emulator(dialect, baud, latency, firmware, emulator_args)
        if before_open is not None:
            before_open()
        self.remote = Remote(tty, remote, tuned=not ser2net_defaults) if remote is not None else None
        self.modem = open_modem(dialect, self.remote.url + url_options if self.remote else tty, baud, **settings)

    def close(self) -> None:
        self.modem.close()
        if self.remote is not None:
            self.remote.close()
        for process in (self.emulator, self.peer):
            process.terminate()
            process.wait(10)

    def counters(self):
        stats = self.modem.stats
        return stats["commands"], stats["commands"] + stats["payload_writes"]

    @contextmanager
    def counted(self, into: dict, name: str):
        """AT commands and serial round trips (commands + payload writes) spent inside the block."""
        commands, trips = self.counters()
        yield
        after_commands, after_trips = self.counters()
        into[name] = {"commands": after_commands - commands, "round_trips": after_trips - trips}

    def connect(self, verb: str):
        sock = self.modem.socket()
        sock.settimeout(120)
        sock.connect(("127.0.0.1", self.peer_port))
        sock.write(verb.encode() + b"\n")
        return sock

    # --- measurements ---------------------------------------------------------------------------
    def download(self, size: int) -> dict:
        """``wire_bytes``: what crossed the line both ways meanwhile (commands and answers take
        turns on it: ``bytes / wire_bytes`` is the protocol's ceiling for this download)."""
        sock = self.connect(f"SOURCE {size}")
        wire = self._wire_bytes()
        cpu, started = time.process_time(), time.perf_counter()
        data = sock.read()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        wire = self._wire_bytes() - wire
        sock.close()
        if len(data) != size:
            raise RuntimeError(f"download came back short: {len(data)} of {size}")
        return dict(self._rates(size, seconds, cpu), wire_bytes=wire)

    def _wire_bytes(self) -> int:
        stats = self.modem.stats
        return stats["bytes_read"] + stats["bytes_written"]

    def upload(self, size: int) -> dict:
        payload = os.urandom(size)
        sock = self.connect(f"SINK {size}")
        cpu, started = time.process_time(), time.perf_counter()
        sock.sendall(payload)
        answer = sock.readline()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        sock.close()
        if answer != b"OK %d\n" % size:
            raise RuntimeError(f"upload not confirmed: {answer!r}")
        return self._rates(size, seconds, cpu)

    # --- data mode ------------------------------------------------------------------------------
    def _data_mode_socket(self, request: bytes):
        """A socket in data mode with ``request`` on its way: (socket, its data_mode block, the
        seconds entering took, when the request went). Quectel switches a connected socket, and
        the request goes before, by command (a few bytes sent raw would wait for the module's
        packet timer); ESP-AT's passthrough opens the connection itself."""
        sock = self.modem.socket()
        sock.settimeout(120)
        block = sock.data_mode()
        if self.dialect == "quectel":
            sock.connect(("127.0.0.1", self.peer_port))
            sock.write(request)
            sent = time.perf_counter()
            block.__enter__()
            return sock, block, time.perf_counter() - sent, sent
        started = time.perf_counter()
        block.__enter__()
        sock.connect(("127.0.0.1", self.peer_port))
        entered = time.perf_counter() - started
        sock.write(request)
        return sock, block, entered, time.perf_counter()

    def _leave(self, sock, block) -> float:
        started = time.perf_counter()
        block.__exit__(None, None, None)
        seconds = time.perf_counter() - started
        sock.close()
        return seconds

    def data_mode_download(self, size: int) -> dict:
        """From the request to the last byte (on Quectel the switch to data mode is inside)."""
        cpu = time.process_time()
        sock, block, entered, started = self._data_mode_socket(f"SOURCE {size}\n".encode())
        data = sock.read(size)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if len(data) != size:
            raise RuntimeError(f"download came back short: {len(data)} of {size}")
        result = self._rates(size, seconds, cpu)
        result.update(enter_seconds=entered, leave_seconds=self._leave(sock, block))
        return result

    def data_mode_upload(self, size: int) -> dict:
        """From the first byte written to the peer's confirmation of the last."""
        payload = os.urandom(size)
        sock, block, entered, _ = self._data_mode_socket(f"SINK {size}\n".encode())
        cpu, started = time.process_time(), time.perf_counter()
        sock.sendall(payload)
        answer = sock.readline()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if answer != b"OK %d\n" % size:
            raise RuntimeError(f"upload not confirmed: {answer!r}")
        result = self._rates(size, seconds, cpu)
        result.update(enter_seconds=entered, leave_seconds=self._leave(sock, block))
        return result

    def _rates(self, size: int, seconds: float, cpu: float) -> dict:
        result = {"bytes": size, "seconds": seconds, "bytes_per_s": size / seconds, "cpu_per_mib": cpu / (size / MIB)}
        if self.line_rate:
            result["of_line_rate"] = size / seconds / self.line_rate
        return result

    def round_trips(self, size: int) -> dict:
        """Commands and round trips for a connect, a 32-byte request/response, and ``size`` bytes each way."""
        costs = {}
        with self.counted(costs, "connect"):
            sock = self.connect("ECHO")
        with self.counted(costs, "request_response"):
            sock.write(b"x" * 32)
            if sock.read(32) != b"x" * 32:
                raise RuntimeError("echo came back wrong")
        sock.close()
        with self.counted(costs, "download"):
            self.download(size)
        with self.counted(costs, "upload"):
            self.upload(size)
        for name in ("download", "upload"):
            costs[name]["per_mib"] = {k: v / (size / MIB) for k, v in costs[name].items()}
        return costs

    def all_busy(self, seconds: float, warm_up: float = 2.0) -> dict:
        """Every socket of the modem downloading at once for ``seconds``: aggregate and min/max share.

        Data fetched while the sockets were still being opened sits in their buffers; the readers
        swallow it during ``warm_up`` so that only what crossed the line in the window is counted."""
        sockets = [self.connect("SOURCE 0") for _ in range(self.modem.max_sockets)]
        counts = [0] * len(sockets)
        stop = threading.Event()

        def drain(index, sock):
            while not stop.is_set():
                counts[index] += len(sock.recv(4096))

        threads = [threading.Thread(target=drain, args=(i, s)) for i, s in enumerate(sockets)]
        for thread in threads:
            thread.start()
        time.sleep(warm_up)
        before, started = list(counts), time.perf_counter()
        time.sleep(seconds)
        after, elapsed = list(counts), time.perf_counter() - started
        counts = [a - b for a, b in zip(after, before)]
        stop.set()
        for thread in threads:
            thread.join(30)
        for sock in sockets:
            sock.close()
        total = sum(counts)
        result = {"sockets": len(sockets), "bytes": total, "bytes_per_s": total / elapsed,
                  "min_max_share": min(counts) / max(counts) if max(counts) else 0.0}
        if self.line_rate:
            result["of_line_rate"] = total / elapsed / self.line_rate
        return result

    def peak_memory(self, size: int) -> dict:
        """Peak Python allocation while downloading ``size`` bytes (tracemalloc; slows the run)."""
        tracemalloc.start()
        try:
            sock = self.connect(f"SOURCE {size}")
            digest = hashlib.sha256()
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                digest.update(data)
            sock.close()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return {"transfer_bytes": size, "peak_traced_bytes": peak}
