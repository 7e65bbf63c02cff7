"""CMUX: two sockets in data mode at once, with commands beside them, against plain data mode.

    python -m bench.cmux [--rate 921600] [--seconds 10] [--json] [--update-readme]

One Quectel emulator, paced at the rate, and the peer, each in a process of its own. Plain: one
socket in data mode (the peer echoes what comes: the line is loaded both ways). CMUX
(``open_modem(..., cmux=True)``): sockets A and B in data mode at once, each echoing; meanwhile a
third socket in command mode sends 64-byte echoes one after another and ``modem.at("AT+CSQ")`` is
asked every half second. Every byte that comes back is compared with what was sent (a seeded
stream per socket). Reported per run: goodput each way (the data-mode sockets together) as a share
of the line, this process's CPU per MiB moved, the command-mode echoes done and the slowest
``AT+CSQ``, and whether every byte came back as sent.
"""
import argparse
import json
import random
import sys
import threading
import time

import atsock

from .scenarios import MIB, ROOT, Session, _spawn, spawn_emulator

BLOCK = 4096
READ = 65536
CSQ_EVERY = 0.5


class _Echoer:
    """A socket in data mode that writes a seeded random stream and checks what the peer echoes
    (the stream repeats a random mebibyte, so that neither making it nor checking it costs this
    process much of the CPU that is measured)."""

    def __init__(self, modem, peer_port: int, seed: int):
        self.sock = modem.socket()
        self.sock.settimeout(60)
        self.sock.connect(("127.0.0.1", peer_port))
        self.sock.write(b"ECHO\n")
        self.block = self.sock.data_mode()
        self.block.__enter__()
        pattern = random.Random(seed).randbytes(MIB)
        self._ring = pattern + pattern[:READ]  # any READ bytes from any offset, without wrapping
        self.sent = self.received = 0
        self.mismatches = 0

    def writing(self, stop: threading.Event) -> None:
        while not stop.is_set():
            start = self.sent % MIB
            self.sock.sendall(self._ring[start:start + BLOCK])
            self.sent += BLOCK

    def reading(self, until: threading.Event) -> None:
        """Until ``until`` is set and every byte sent came back."""
        while not (until.is_set() and self.received >= self.sent):
            data = self.sock.recv(READ)
            if not data:
                raise RuntimeError("the echo ended early")
            start = self.received % MIB
            if data != self._ring[start:start + len(data)]:
                self.mismatches += 1
            self.received += len(data)

    def handed_over(self) -> int:
        """Bytes sent that have left this process's buffers (sendall returns once they are queued)."""
        session = self.sock._conn.data_session  # (the line it runs on: the modem's or a channel's)
        return self.sent - (session.engine.unsent if session is not None else 0)

    def close(self) -> None:
        self.block.__exit__(None, None, None)
        self.sock.close()


class _Commands:
    """Command mode beside data mode: 64-byte echoes on a socket, and AT+CSQ every half second."""

    def __init__(self, modem, peer_port: int):
        self.modem = modem
        self.sock = modem.socket()
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", peer_port))
        self.sock.write(b"ECHO\n")
        self.echoes = 0
        self.csq_seconds = []
        self.wrong = 0

    def echoing(self, stop: threading.Event) -> None:
        payload = bytes(range(64))
        while not stop.is_set():
            self.sock.write(payload)
            got = b""
            while len(got) < len(payload):
                got += self.sock.recv(64 - len(got))
            self.wrong += got != payload
            self.echoes += 1

    def asking(self, stop: threading.Event) -> None:
        while not stop.wait(CSQ_EVERY):
            started = time.perf_counter()
            self.modem.at("AT+CSQ", timeout=10)
            self.csq_seconds.append(time.perf_counter() - started)

    def close(self) -> None:
        self.sock.close()


def measure(cmux: bool, baud: int = 921600, seconds: float = 10.0, warm_up: float = 1.0) -> dict:
    peer, port = _spawn(["-m", "bench.peer"])
    emulator, tty = spawn_emulator("quectel", baud)
    modem = None
    echoers, commands = [], None
    try:
        modem = atsock.open_modem(tty, dialect="quectel", apn="bench", baudrate=baud, cmux=cmux)
        echoers = [_Echoer(modem, int(port), seed) for seed in range(2 if cmux else 1)]
        commands = _Commands(modem, int(port)) if cmux else None
        stop, drained = threading.Event(), threading.Event()
        work = [threading.Thread(target=e.writing, args=(stop,)) for e in echoers]
        readers = [threading.Thread(target=e.reading, args=(drained,)) for e in echoers]
        if commands is not None:
            work += [threading.Thread(target=commands.echoing, args=(stop,)),
                     threading.Thread(target=commands.asking, args=(stop,))]
        for thread in work + readers:
            thread.start()
        time.sleep(warm_up)
        before = [(e.handed_over(), e.received) for e in echoers]
        cpu, started = time.process_time(), time.perf_counter()
        echoes_before = commands.echoes if commands else 0
        time.sleep(seconds)
        after = [(e.handed_over(), e.received) for e in echoers]
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        echoes = (commands.echoes - echoes_before) if commands else 0
        stop.set()
        for thread in work:
            thread.join(60)
        drained.set()
        for thread in readers:
            thread.join(60)
    finally:
        for echoer in echoers:
            echoer.close()
        if commands is not None:
            commands.close()
        if modem is not None:
            modem.close()
        for process in (emulator, peer):
            process.terminate()
            process.wait(10)
    line = baud / 10
    up = sum(a[0] - b[0] for a, b in zip(after, before))
    down = sum(a[1] - b[1] for a, b in zip(after, before))
    result = {"cmux": cmux, "baud": baud, "sockets": len(echoers), "seconds": elapsed,
              "up_of_line": up / elapsed / line, "down_of_line": down / elapsed / line,
              "cpu_per_mib": cpu / ((up + down) / MIB), "byte_exact": all(not e.mismatches for e in echoers)
              and all(e.sent == e.received for e in echoers)}
    if commands is not None:
        result.update(echoes=echoes, echoes_per_s=echoes / elapsed, echoes_exact=not commands.wrong,
                      csq_max_seconds=max(commands.csq_seconds), csq_asked=len(commands.csq_seconds))
    return result


def framing(baud: int = 921600, size: int = 512 * 1024) -> dict:
    """The multiplexer's cost in command mode: a download and an upload of ``size`` bytes, plain and
    with ``cmux=True`` (every command, answer and payload then in frames), goodput and CPU."""
    result = {"baud": baud, "bytes": size}
    for cmux in (False, True):
        session = Session("quectel", baud, 0.0, cmux=cmux)
        try:
            result["cmux" if cmux else "plain"] = {"download": session.download(size), "upload": session.upload(size)}
        finally:
            session.close()
    return result


def describe_framing(result: dict) -> str:
    plain, cmux = result["plain"], result["cmux"]
    return "; ".join(f"command-mode {way} at {result['baud']}: plain {plain[way]['of_line_rate'] * 100:.1f}%, "
                     f"CMUX {cmux[way]['of_line_rate'] * 100:.1f}% of the line, CPU {plain[way]['cpu_per_mib']:.3f} -> "
                     f"{cmux[way]['cpu_per_mib']:.3f} s/MiB" for way in ("download", "upload"))


TITLE = ("CMUX (quectel, `cmux=True`): two sockets in data mode at once, a third echoing in command mode and "
         "`modem.at(\"AT+CSQ\")` meanwhile, against one socket in plain data mode; the multiplexer's cost in "
         "command mode")


def table(results: dict) -> str:
    """The README's rows: ``results`` as ``python -m bench`` keeps them under "cmux"."""
    if not results:
        return ""
    rows = ["| line (baud) | run | up (of the line) | down | CPU/MiB | byte-exact | beside it |",
            "|---|---|---|---|---|---|---|"]
    for run in results["data_mode"]:
        beside = (f"{run['echoes_per_s']:.1f} command-mode echoes/s, AT+CSQ ≤ {run['csq_max_seconds']:.2f} s"
                  if run["cmux"] else "—")
        rows.append(f"| {run['baud']} | {'CMUX' if run['cmux'] else 'plain'} data mode, {run['sockets']} "
                    f"socket{'s' if run['sockets'] > 1 else ''} | {run['up_of_line'] * 100:.1f}% | "
                    f"{run['down_of_line'] * 100:.1f}% | {run['cpu_per_mib']:.3f}s | "
                    f"{'yes' if run['byte_exact'] else 'NO'} | {beside} |")
    cost = results["framing"]
    for way in ("upload", "download"):
        plain, cmux = cost["plain"][way], cost["cmux"][way]
        share = f"{plain['of_line_rate'] * 100:.1f}% → {cmux['of_line_rate'] * 100:.1f}%"
        rows.append(f"| {cost['baud']} | command mode, one socket, plain → CMUX | "
                    f"{share if way == 'upload' else ''} | {share if way == 'download' else ''} | "
                    f"{plain['cpu_per_mib']:.3f}s → {cmux['cpu_per_mib']:.3f}s | — | — |")
    return "\n".join(rows)


def run_all(baud: int = 921600, seconds: float = 10.0) -> dict:
    return {"data_mode": [measure(cmux, baud, seconds) for cmux in (False, True)], "framing": framing(baud)}


def describe(result: dict) -> str:
    text = (f"{'CMUX' if result['cmux'] else 'plain'} data mode at {result['baud']}, {result['sockets']} socket(s): "
            f"up {result['up_of_line'] * 100:.1f}%, down {result['down_of_line'] * 100:.1f}% of the line, "
            f"CPU {result['cpu_per_mib']:.3f} s/MiB, {'byte-exact' if result['byte_exact'] else 'BYTES DIFFER'}")
    if result["cmux"]:
        text += (f"; beside it {result['echoes_per_s']:.1f} command-mode echoes/s, AT+CSQ at most "
                 f"{result['csq_max_seconds']:.2f} s ({result['csq_asked']} asked)")
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cmux", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=921600, metavar="BAUD")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--update-readme", action="store_true", help="put the rows into README.md's benchmark tables")
    args = parser.parse_args(argv)
    results = run_all(args.rate, args.seconds)
    print(json.dumps(results, indent=2) if args.json else
          "\n".join(list(map(describe, results["data_mode"])) + [describe_framing(results["framing"])]))
    if args.update_readme:
        from .report import update_readme_section  # (report shows this module's table: imported here, not above)
        update_readme_section(ROOT / "README.md", TITLE, table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
