"""The integrity matrix: every emulator fault x (download, upload, echo), SHA-256 compared end to end.

The only acceptable outcomes are "every byte delivered in order" and "an OSError raised to the
caller" with what was delivered before it an exact prefix of what was sent. Anything else — a
short or altered stream without an error, duplicated bytes, a hang — is a violation.

    python -m bench.integrity            # the whole matrix, as a table
The test suite runs the same cases (tests/test_integrity.py).
"""
import hashlib
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

import atsock
from fakemodem import FakeModem

FAULTS = {
    "split responses": {"split": 0.5},
    "URCs between lines": {"urc": 0.3},
    "response delays": {"delay": 0.01},
    "SEND FAIL": {"send_fail": 0.2},
    "busy": {"busy": 0.1},
    "modem buffer full": {"buffer": 1024},
    "reboot": {"reboot": 0.05},
    "context/Wi-Fi drop": {"drop": 0.05},
    "garbage lines": {"garbage": 0.2},
    "echo back on": {"echo": 0.05},
    "final never comes": {"no_final": 0.05},
}
ONLY = {"busy": ("esp8285",)}  # Quectel modules have no "busy" answer
OPERATIONS = ("download", "upload", "echo")
DIALECTS = ("quectel", "esp8285")
SIZE = 64 * 1024
DEADLINE = 60.0  # a case that takes longer has hung
WIFI = {"ssid": "lab", "key": "pw"}
TIMEOUTS = {"send": 3.0, "read": 3.0, "close": 3.0, "open": 5.0}


def cases():
    for fault in FAULTS:
        for dialect in ONLY.get(fault, DIALECTS):
            for operation in OPERATIONS:
                yield dialect, fault, operation


@dataclass
class Outcome:
    dialect: str
    fault: str
    operation: str
    result: str = "intact"         # "intact", "OSError", or "VIOLATION: ..."
    errno: int = 0
    delivered: int = 0
    fired: dict = field(default_factory=dict)

    @property
    def acceptable(self) -> bool:
        return not self.result.startswith("VIOLATION")


class Peer:
    """A host TCP server playing one operation's far end and recording what it received."""

    def __init__(self, operation: str, payload: bytes):
        self.operation, self.payload = operation, payload
        self.received = bytearray()
        self.done = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            try:
                if self.operation == "download":
                    conn.sendall(self.payload)
                    return
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    self.received += data
                    if self.operation == "echo":
                        conn.sendall(data)
                    if len(self.received) >= len(self.payload):
                        break
            except OSError:
                pass
            finally:
                self.done.set()

    def close(self):
        self._sock.close()


def _prefix_ok(got: bytes, sent: bytes) -> bool:
    return sent[:len(got)] == got


def _transfer(sock, operation: str, payload: bytes, got: bytearray) -> None:
    if operation == "download":
        while True:
            data = sock.recv(4096)
            if not data:
                return
            got += data
    if operation == "upload":
        sock.sendall(payload)
        return
    for offset in range(0, len(payload), 4096):
        sock.write(payload[offset:offset + 4096])
        got += sock.read(min(4096, len(payload) - offset))


def run_case(dialect: str, fault: str, operation: str, seed: int = 7) -> Outcome:
    """One case; the faults are armed once the driver is up, so that they strike the transfer."""
    outcome = Outcome(dialect, fault, operation)
    seed = seed + sum(map(ord, dialect + fault + operation))  # reproducible, different per case
    config = FAULTS[fault]
    at_start = {k: v for k, v in config.items() if k == "buffer"}  # sizes are fixed at power-on
    payload = os.urandom(SIZE)
    peer = Peer(operation, payload)
    options = {"networks": {WIFI["ssid"]: WIFI["key"]}} if dialect == "esp8285" else {}
    settings = dict(WIFI) if dialect == "esp8285" else {"apn": "internet"}
    started = time.monotonic()
    got = bytearray()
    try:
        with FakeModem(dialect, faults=at_start, seed=seed, **options) as fm:
            modem = atsock.open_modem(fm.port, dialect=dialect, timeouts=TIMEOUTS, **settings)
            fm.set_faults(config)
            try:
                sock = modem.socket()
                sock.settimeout(10)
                try:
                    sock.connect(("127.0.0.1", peer.port))
                    _transfer(sock, operation, payload, got)
                finally:
                    sock.close()
            except OSError as exc:
                outcome.result, outcome.errno = "OSError", exc.args[0] if exc.args else 0
            finally:
                modem.close()
            outcome.fired = dict(fm.faults.fired)
    finally:
        peer.close()
    outcome.delivered = len(peer.received) if operation == "upload" else len(got)
    if time.monotonic() - started > DEADLINE:
        outcome.result = f"VIOLATION: took {time.monotonic() - started:.0f} s"
        return outcome
    if operation == "upload":
        peer.done.wait(5)
        received = bytes(peer.received)
        if not _prefix_ok(received, payload):
            outcome.result = "VIOLATION: the peer received altered bytes"
        elif outcome.result == "intact" and received != payload:
            outcome.result = f"VIOLATION: the peer got {len(received)} of {len(payload)} bytes, no error"
        return outcome
    if not _prefix_ok(bytes(got), payload):
        outcome.result = "VIOLATION: altered or duplicated bytes delivered"
    elif outcome.result == "intact" and hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
        outcome.result = f"VIOLATION: {len(got)} of {len(payload)} bytes and no error"
    return outcome


def main() -> int:
    import logging
    logging.basicConfig(level=logging.CRITICAL)
    outcomes = [run_case(*case) for case in cases()]
    print("Each cell: the outcome, and (n×) how often the fault struck during that case.\n")
    print("| fault | dialect | download | upload | echo |")
    print("|---|---|---|---|---|")
    for fault in FAULTS:
        for dialect in ONLY.get(fault, DIALECTS):
            row = [o for o in outcomes if o.fault == fault and o.dialect == dialect]
            cells = []
            for o in row:
                cell = "intact" if o.result == "intact" else (f"OSError {o.errno}" if o.acceptable else o.result)
                key = next(iter(FAULTS[fault]))
                cells.append(cell if key == "buffer" else f"{cell} ({o.fired.get(key, 0)}×)")
            print(f"| {fault} | {dialect} | " + " | ".join(cells) + " |")
    bad = [o for o in outcomes if not o.acceptable]
    print(f"\n{len(outcomes)} cases, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
