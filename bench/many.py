"""Many modems driven from one process: every modem uploading and downloading at once.

    python -m bench.many [--modems 1 --modems 8] [--dialect quectel] [--rate 921600] [--seconds 8] [--remote 4]

Each modem is an emulator process of its own on its own pty, at the given line rate; atsock opens
all of them in this process (one engine loop thread per modem) and runs, per modem, an upload and a
download at once, each in a thread of its own, for ``seconds`` after a warm-up: in command mode on
two sockets (the module's one command channel carries one exchange at a time, so the two directions
share one line's worth), or with ``--data-mode`` on one socket in data mode (the line is full duplex).
Reported per modem count: aggregate goodput, each modem's download, upload and both together as a
share of its line (the worst and the best modem), this process's CPU per MiB moved, and the CPU the
emulators and the peer used meanwhile (on a small machine they compete for the same cores).
With ``--remote N``, N of the modems are reached through ser2net on loopback (``rfc2217://``, one
ser2net process per modem, counted with the emulators).
"""
import argparse
import json
import os
import sys
import threading
import time

from .scenarios import MIB, Remote, _spawn, open_modem, spawn_emulator

COUNTS = [1, 2, 4, 8]
BLOCK = 64 * 1024


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a child process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Pair:
    """One modem's busy socket(s) and what they moved."""

    def __init__(self, modem, peer_port: int, data_mode: bool):
        self.modem = modem
        self.received = 0
        self.sent = 0
        self.block = None
        if data_mode:
            sock = modem.socket()
            sock.settimeout(60)
            self.block = sock.data_mode()
            if modem.dialect_class.name == "quectel":
                sock.connect(("127.0.0.1", peer_port))
                sock.write(b"DUPLEX\n")
                self.block.__enter__()
            else:
                self.block.__enter__()
                sock.connect(("127.0.0.1", peer_port))
                sock.write(b"DUPLEX\n")
            self.down = self.up = sock
            return
        self.down = modem.socket()
        self.up = modem.socket()
        for sock, verb in ((self.down, b"SOURCE 0\n"), (self.up, b"SINK 0\n")):
            sock.settimeout(60)
            sock.connect(("127.0.0.1", peer_port))
            sock.write(verb)

    def downloading(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.received += len(self.down.recv(BLOCK))
        except OSError:
            if not stop.is_set():
                raise

    def uploading(self, stop: threading.Event) -> None:
        block = os.urandom(BLOCK)
        try:
            while not stop.is_set():
                self.sent += self.up.send(block)
        except OSError:
            if not stop.is_set():
                raise

    def counts(self):
        """(received, sent); in data mode a send returns once the transport has the bytes, so what
        it still holds is not counted as sent."""
        return self.received, self.sent - (self.modem.engine.unsent if self.block is not None else 0)

    def close(self) -> None:
        for sock in {self.down, self.up}:
            try:
                sock.close()  # (data mode: back to command mode first)
            except OSError:
                pass


def _close_all(pairs) -> None:
    closers = [threading.Thread(target=pair.close) for pair in pairs]  # guard times in parallel
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(60)


def measure(count: int, dialect: str = "quectel", baud: int = 921600, seconds: float = 8.0,
            warm_up: float = 2.0, data_mode: bool = False, remote: int = 0) -> dict:
    peer, port = _spawn(["-m", "bench.peer"])
    emulators, servers, modems, pairs = [], [], [], []
    try:
        for _ in range(count):
            emulators.append(spawn_emulator(dialect, baud))
        servers = [Remote(tty) for _, tty in emulators[:remote]]
        for index, (_, tty) in enumerate(emulators):
            modems.append(open_modem(dialect, servers[index].url if index < remote else tty, baud))
        pairs = [_Pair(modem, int(port), data_mode) for modem in modems]
        stop = threading.Event()
        threads = [threading.Thread(target=work, args=(stop,), daemon=True)
                   for pair in pairs for work in (pair.downloading, pair.uploading)]
        for thread in threads:
            thread.start()
        time.sleep(warm_up)
        children = [process.pid for process, _ in emulators] + [peer.pid] + [p for s in servers for p in s.pids]
        before = [pair.counts() for pair in pairs]
        child_cpu = sum(_cpu_seconds(pid) for pid in children)
        cpu, started = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        after = [pair.counts() for pair in pairs]
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        child_cpu = sum(_cpu_seconds(pid) for pid in children) - child_cpu
        stop.set()
        _close_all(pairs)  # unblocks the workers
        for thread in threads:
            thread.join(30)
    finally:
        _close_all(pairs)
        for modem in modems:
            modem.close()
        for server in servers:
            server.close()
        for process, _ in emulators:
            process.terminate()
            process.wait(10)
        peer.terminate()
        peer.wait(10)
    line = baud / 10
    downs = [(a[0] - b[0]) / elapsed / line for a, b in zip(after, before)]
    ups = [(a[1] - b[1]) / elapsed / line for a, b in zip(after, before)]
    moved = sum(a[0] - b[0] + a[1] - b[1] for a, b in zip(after, before))
    return {"modems": count, "remote": remote, "dialect": dialect, "baud": baud, "data_mode": data_mode,
            "seconds": elapsed,
            "bytes_per_s": moved / elapsed, "download_of_line": downs, "upload_of_line": ups,
            "both_of_line": [down + up for down, up in zip(downs, ups)],
            "cpu_per_mib": cpu / (moved / MIB) if moved else None,
            "process_cpu_share": cpu / elapsed, "emulators_cpu_share": child_cpu / elapsed,
            "cores": os.cpu_count()}


def describe(result: dict) -> str:
    downs, ups, both = result["download_of_line"], result["upload_of_line"], result["both_of_line"]
    mode = "data mode" if result["data_mode"] else "command mode"
    remote = f" ({result['remote']} through ser2net)" if result.get("remote") else ""
    return (f"{result['modems']} × {result['dialect']} at {result['baud']}{remote}, {mode}: "
            f"{result['bytes_per_s'] / 1e3:.0f} kB/s in all; per modem down {min(downs) * 100:.1f}–"
            f"{max(downs) * 100:.1f}%, up {min(ups) * 100:.1f}–{max(ups) * 100:.1f}%, both "
            f"{min(both) * 100:.1f}–{max(both) * 100:.1f}% of its line; CPU {result['cpu_per_mib']:.3f} s/MiB here "
            f"({result['process_cpu_share'] * 100:.0f}% of a core), emulators and peer "
            f"{result['emulators_cpu_share'] * 100:.0f}% of a core ({result['cores']} cores)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.many", description=__doc__.splitlines()[0])
    parser.add_argument("--modems", action="append", type=int, help="modem counts (default 1, 2, 4, 8)")
    parser.add_argument("--dialect", default="quectel", choices=["quectel", "esp8285"])
    parser.add_argument("--rate", type=int, default=921600, metavar="BAUD")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--data-mode", action="store_true", help="one socket per modem in data mode (full duplex)")
    parser.add_argument("--remote", type=int, default=0, metavar="N", help="N of the modems through ser2net on loopback")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [measure(count, args.dialect, args.rate, args.seconds, data_mode=args.data_mode,
                       remote=min(args.remote, count))
               for count in args.modems or COUNTS]
    print(json.dumps(results, indent=2) if args.json else "\n".join(map(describe, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
