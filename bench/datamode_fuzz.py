"""The data-mode property, as long as you like: random payloads, biased toward ``+`` and the
modules' own words, with random pauses (the guard time among them), through data mode both ways,
arrive byte for byte, and the modem answers ``AT`` afterwards.

    python -m bench.datamode_fuzz --examples 300 [--dialect esp8285] [--guard 1.0]

Each example connects a socket in data mode to a peer that first sends its own pieces (with their
pauses: close words, answers, restart words, headers that frame data in command mode), then echoes
what the socket sends (``+`` runs with pauses around them, which would escape the module if written
as they come). Both must come back exactly; then the block ends and ``AT`` is answered. The test
suite runs a few examples per dialect (tests/test_data_mode_property.py); ``--guard`` is the guard
time on both sides (the manuals' 1 s on Quectel makes an example take seconds).
"""
import argparse
import queue
import socket
import threading
import time

from hypothesis import HealthCheck, given, settings, strategies as st

import atsock
from fakemodem import FakeModem

from .peer import echo

WORDS = [b"+", b"++", b"+++", b"++++", b"\r\n", b"OK", b"\r\nOK\r\n", b"NO CARRIER", b"\r\nNO CARRIER\r\n",
         b"CLOSED\r\n", b"DISCLOSED\r\n", b"+IPD,0,5:", b"\r\n+IPD,5\r\n", b'+QIURC: "closed",0',
         b'\r\n+QIURC: "closed",0\r\n', b'\r\n+QIURC: "recv",0\r\n', b"+QUITT\r\n", b"\r\nRDY\r\n", b"\r\nready\r\n",
         b"AT\r\n", b"AT+CIPCLOSE\r\n", b"AT+QIDEACT=1\r"]
WIFI = {"ssid": "lab", "key": "pw"}


def pieces(guard: float):
    """(bytes, pause before them) lists: words and binary, pauses of none, a third of the guard, the
    guard, one and a half."""
    piece = st.one_of(st.sampled_from(WORDS), st.binary(min_size=1, max_size=40))
    pause = st.sampled_from([0.0, 0.0, guard / 3, guard, guard * 1.5])
    return st.lists(st.tuples(piece, pause), min_size=1, max_size=6)


class Peer:
    """Per connection: sends the next script, then echoes."""

    def __init__(self):
        self.scripts = queue.Queue()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, self.scripts.get()), daemon=True).start()

    @staticmethod
    def _serve(conn, script):
        with conn:
            try:
                for data, pause in script:
                    time.sleep(pause)
                    conn.sendall(data)
                echo(conn)
            except OSError:
                return

    def close(self):
        self._sock.close()


def read_exactly(sock, count: int) -> bytes:
    """``count`` bytes, fewer only if the stream ends first."""
    data = b""
    while len(data) < count:
        piece = sock.read(count - len(data))
        if not piece:
            break
        data += piece
    return data


def one_example(dialect: str, modem, peer: Peer, from_peer, from_socket) -> None:
    peer.scripts.put(from_peer)
    expected, sent = b"".join(d for d, _ in from_peer), b"".join(d for d, _ in from_socket)
    sock = modem.socket()
    sock.settimeout(30)
    try:
        if dialect == "quectel":
            sock.connect(("127.0.0.1", peer.port))
        with sock.data_mode():
            if dialect != "quectel":
                sock.connect(("127.0.0.1", peer.port))
            got = read_exactly(sock, len(expected))
            assert got == expected, (got, expected)
            for data, pause in from_socket:
                time.sleep(pause)
                sock.sendall(data)
            echoed = read_exactly(sock, len(sent))
            assert echoed == sent, (echoed, sent)
        assert modem.at("AT").ok
    finally:
        sock.close()


FAST_LINE = 8_000_000  # baud (an ESP's 80 MHz clock divides to it exactly)


def check(dialect: str, examples: int, guard: float, emulator_options: dict = None, modem_settings: dict = None,
          on_example=None) -> int:
    """Runs ``examples`` examples on one emulated modem; returns how many ran."""
    ran = []
    emulator_options = dict(emulator_options or ({"networks": {"lab": "pw"}} if dialect != "quectel" else {}))
    modem_settings = dict(modem_settings or (WIFI if dialect != "quectel" else {"apn": "internet"}))
    if dialect != "quectel":
        modem_settings.setdefault("escape_settle", guard)
    peer = Peer()
    try:
        # an unpaced line that boots at a fast rate atsock opens it at: the line clock counts a fast line
        with FakeModem(dialect, escape_guard=guard, boot_baudrate=FAST_LINE, **emulator_options) as fm, \
                atsock.open_modem(fm.port, dialect=dialect, baudrate=FAST_LINE, escape_guard=guard,
                                  **modem_settings) as modem:
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(pieces(guard), pieces(guard))
            def example(from_peer, from_socket):
                one_example(dialect, modem, peer, from_peer, from_socket)
                ran.append(1)
                if on_example is not None:
                    on_example(len(ran))

            example()
    finally:
        peer.close()
    return len(ran)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--dialect", choices=["quectel", "esp8285", "both"], default="both")
    parser.add_argument("--guard", type=float, default=0.05, help="guard time around +++ (s), both sides")
    args = parser.parse_args()
    for dialect in (["quectel", "esp8285"] if args.dialect == "both" else [args.dialect]):
        started = time.perf_counter()
        ran = check(dialect, args.examples, args.guard,
                    on_example=lambda n: print(f"\r{dialect}: {n} examples", end="", flush=True))
        print(f"\r{dialect}: {ran} examples passed in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
