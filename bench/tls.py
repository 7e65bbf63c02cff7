"""TLS against plain TCP on the same emulated link: goodput of each, and their ratio, for host
TLS (CPython's ssl in this process, ciphertext on the serial line) and for the module's own TLS
(AT+QSSL* / ESP-AT "SSL" links: plaintext on the line, TLS in the emulated module).

    python -m bench.tls                   # both dialects at 921600 baud, host and module TLS
    python -m bench.tls --quick
    python -m bench.tls --no-module       # host TLS only

One session (emulator, peer processes, modem) per dialect and kind of TLS; the plain and the TLS
transfers run one after the other over the same line, the TLS peer being the plain peer's code
behind CPython's ssl with a throw-away certificate (trustme). The module-TLS session of ESP-AT
runs firmware 2.2 with the CA flashed (``--client-ca``), so that the module verifies; Quectel's
uploads the CA for each handshake. Transfers are timed from after the handshake (the module's:
from before the connect, upload included), which is reported on its own.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import atsock.tls

from .scenarios import Session, _spawn

BAUD = 921600
HOST = "peer.test"  # the name the emulator of a Session resolves to 127.0.0.1


class TlsPeer:
    """bench.peer as a TLS server, its certificate issued by a CA made for the run."""

    def __init__(self):
        try:
            import trustme
        except ImportError:
            raise SystemExit("the TLS benchmark needs trustme: pip install -e '.[bench]'") from None
        ca = trustme.CA()
        leaf = ca.issue_cert(HOST)
        self._files = tempfile.TemporaryDirectory(prefix="atsock-bench-tls-")
        cert, key = Path(self._files.name, "cert.pem"), Path(self._files.name, "key.pem")
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        self.ca_pem = ca.cert_pem.bytes()
        self.ca_file = Path(self._files.name, "ca.pem")
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.process, port = _spawn(["-m", "bench.peer", "--tls", str(cert), str(key)])
        self.port = int(port)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._files.cleanup()


def _connect(session: Session, peer: TlsPeer, verb: str, module: bool = False):
    context = atsock.tls.SSLContext(atsock.tls.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=peer.ca_pem)
    raw = session.modem.socket()
    raw.settimeout(120)
    if module:  # the module connects and shakes hands in one go
        options = atsock.tls.ModuleTLS(ca_slot=0) if session.dialect == "esp8285" else True
        tls = context.wrap_socket(raw, server_hostname=HOST, module_tls=options)
        started = time.perf_counter()
        tls.connect(("127.0.0.1", peer.port))
    else:
        raw.connect(("127.0.0.1", peer.port))
        started = time.perf_counter()
        tls = context.wrap_socket(raw, server_hostname=HOST)
    handshake = time.perf_counter() - started
    tls.write(verb.encode() + b"\n")
    return tls, handshake


def _download(session: Session, peer: TlsPeer, size: int, module: bool = False) -> dict:
    tls, handshake = _connect(session, peer, f"SOURCE {size}", module)
    cpu, started = time.process_time(), time.perf_counter()
    data = tls.read()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    tls.close()
    if len(data) != size:
        raise RuntimeError(f"TLS download came back short: {len(data)} of {size}")
    return dict(session._rates(size, seconds, cpu), handshake_seconds=handshake)


def _upload(session: Session, peer: TlsPeer, size: int, module: bool = False) -> dict:
    payload = os.urandom(size)
    tls, handshake = _connect(session, peer, f"SINK {size}", module)
    cpu, started = time.process_time(), time.perf_counter()
    tls.sendall(payload)
    answer = tls.readline()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    tls.close()
    if answer != b"OK %d\n" % size:
        raise RuntimeError(f"TLS upload not confirmed: {answer!r}")
    return dict(session._rates(size, seconds, cpu), handshake_seconds=handshake)


def _compare(dialect: str, size: int, baud: int, module: bool) -> dict:
    """Plain TCP, then TLS, over one session; their goodputs and ratios."""
    peer = TlsPeer()
    try:
        extra = ["--firmware", "2.2", "--client-ca", str(peer.ca_file)] if module and dialect == "esp8285" else []
        session = Session(dialect, baud, 0.0, emulator_args=extra)
        try:
            plain = {"download": session.download(size), "upload": session.upload(size)}
            tls = {"download": _download(session, peer, size, module), "upload": _upload(session, peer, size, module)}
        finally:
            session.close()
    finally:
        peer.close()
    ratios = {direction: tls[direction]["bytes_per_s"] / plain[direction]["bytes_per_s"]
              for direction in ("download", "upload")}
    return {"plain": plain, "tls": tls, "tls_vs_plain": ratios}


def measure(dialect: str, size: int, baud: int = BAUD, module: bool = True) -> dict:
    """Host TLS against plain TCP; with ``module``, the module's own TLS against plain TCP too."""
    run = {"dialect": dialect, "baud": baud, "bytes": size, **_compare(dialect, size, baud, False)}
    if module:
        run["module"] = _compare(dialect, size, baud, True)
    return run


def summary(runs) -> list:
    """One line per run and kind of TLS, for the benchmark's report."""
    lines = []
    for run in runs:
        for label, figures in (("host TLS", run), ("module TLS", run.get("module"))):
            if figures is None:
                continue
            ratio, plain, tls = figures["tls_vs_plain"], figures["plain"], figures["tls"]
            lines.append(f"- {run['dialect']} {run['baud']} baud: {label} goodput / plain TCP "
                         f"{ratio['download']:.3f} down, {ratio['upload']:.3f} up "
                         f"({run['bytes'] // 1024} KiB each way; TLS handshake "
                         f"{tls['download']['handshake_seconds'] * 1000:.0f} ms; host CPU/MiB plain -> TLS "
                         f"{plain['download']['cpu_per_mib']:.3f} -> {tls['download']['cpu_per_mib']:.3f}s down, "
                         f"{plain['upload']['cpu_per_mib']:.3f} -> {tls['upload']['cpu_per_mib']:.3f}s up)")
    return lines


def size_for(baud: int, quick: bool) -> int:
    """About ten seconds of line time per transfer (two with ``quick``)."""
    return max(16 * 1024, int(baud / 10 * (2 if quick else 10)) // 1024 * 1024)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers")
    parser.add_argument("--dialect", action="append", choices=["quectel", "esp8285"])
    parser.add_argument("--rate", type=int, default=BAUD, metavar="BAUD")
    parser.add_argument("--no-module", action="store_true", help="host TLS only, not the module's own")
    args = parser.parse_args(argv)
    runs = [measure(dialect, size_for(args.rate, args.quick), args.rate, not args.no_module)
            for dialect in args.dialect or ["quectel", "esp8285"]]
    print("\n".join(summary(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
