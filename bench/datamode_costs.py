"""What data mode's safety costs, on the manuals' guard times (Quectel: 1 s; ESP-AT: 20 ms and 1 s
before the next command), with the emulator and the peer in processes of their own:

* leaving: with the line idle for a while (only the guard after ``+++`` is waited) and right after
  a write (the guard before it too);
* a peer's close: from the last byte to end of stream (the close word is proved before it counts);
* the ``+`` guard: a write of ``+++`` alone after a pause, until the peer has echoed all three,
  against ``ab+`` (three bytes that cannot escape anything).

    python -m bench.datamode_costs [--baud 921600] [--dialect quectel]
"""
import argparse
import time

from .datamode_fuzz import read_exactly as read_up_to
from .scenarios import Session


def read_exactly(sock, count: int) -> bytes:
    data = read_up_to(sock, count)
    if len(data) != count:
        raise RuntimeError(f"the stream ended after {len(data)} of {count} bytes")
    return data


def in_data_mode(session: Session, request: bytes):
    """A socket in data mode to the benchmark's peer, ``request`` sent raw: (socket, its block)."""
    sock = session.modem.socket()
    sock.settimeout(120)
    block = sock.data_mode()
    if session.dialect == "quectel":
        sock.connect(("127.0.0.1", session.peer_port))
        block.__enter__()
    else:
        block.__enter__()
        sock.connect(("127.0.0.1", session.peer_port))
    sock.sendall(request)
    return sock, block


def peer_close(session: Session, size: int = 1000) -> float:
    """Seconds from the last byte of a peer that then closes to the socket's end of stream."""
    sock, block = in_data_mode(session, b"SOURCE %d\n" % size)
    read_exactly(sock, size)
    last = time.perf_counter()
    if sock.read(1) != b"":
        raise RuntimeError("more than asked for")
    seconds = time.perf_counter() - last
    block.__exit__(None, None, None)
    sock.close()
    return seconds


def leave(session: Session, guard: float, idle: bool) -> float:
    """Seconds the end of the block takes, after an echo and a pause (``idle``) or right after a write."""
    sock, block = in_data_mode(session, b"ECHO\n")
    sock.sendall(b"hello")
    read_exactly(sock, 5)
    if idle:
        time.sleep(2 * guard + 0.2)
    else:
        sock.sendall(b"bye")
    seconds = session._leave(sock, block)
    return seconds


def echo_times(session: Session, guard: float) -> dict:
    """Seconds until the peer's echo of a write came back, after a pause of twice the guard."""
    sock, block = in_data_mode(session, b"ECHO\n")
    times = {}
    for label, writes in (("ab+", [b"ab+"]), ("+++", [b"+++"]), ("ab+ again", [b"ab+"]), ("++ then +", [b"++", b"+"])):
        time.sleep(2 * guard + 0.2)
        started = time.perf_counter()
        for data in writes:
            sock.sendall(data)
        read_exactly(sock, sum(map(len, writes)))
        times[label] = time.perf_counter() - started
    block.__exit__(None, None, None)
    sock.close()
    return times


def measure(dialect: str, baud: int) -> dict:
    session = Session(dialect, baud, 0.0)
    try:
        guard = session.modem.core.commands.data_mode.guard
        return {"dialect": dialect, "baud": baud, "leave_idle": leave(session, guard, True),
                "leave_after_write": leave(session, guard, False),
                "peer_close_to_eof": peer_close(session), "echo": echo_times(session, guard)}
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baud", type=int, default=921600)
    parser.add_argument("--dialect", choices=["quectel", "esp8285", "both"], default="both")
    args = parser.parse_args()
    print("| dialect | leaving, line idle | right after a write | a peer's close to end of stream | "
          "echo of `ab+` | of `+++` | of `++` then `+` |")
    print("|---|---|---|---|---|---|---|")
    for dialect in (["quectel", "esp8285"] if args.dialect == "both" else [args.dialect]):
        r = measure(dialect, args.baud)
        echo = r["echo"]
        print(f"| {dialect} | {r['leave_idle']:.2f} s | {r['leave_after_write']:.2f} s | "
              f"{r['peer_close_to_eof']:.2f} s | {echo['ab+'] * 1000:.0f} ms | {echo['+++'] * 1000:.0f} ms | "
              f"{echo['++ then +'] * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
