"""The far end of the benchmark's connections, in a process of its own so its CPU is not counted.

One line per connection says what to do: ``SOURCE <n>`` (send n bytes, or endlessly for 0, then
close), ``SINK <n>`` (read n bytes, answer ``OK <n>``), ``ECHO`` (send back what comes). Prints
its port on the first line of stdout.
"""
import os
import socket
import sys
import threading

BLOCK = os.urandom(64 * 1024)


def serve(conn: socket.socket) -> None:
    with conn:
        request = b""
        while not request.endswith(b"\n"):
            data = conn.recv(1)
            if not data:
                return
            request += data
        verb, _, count = request.decode().strip().partition(" ")
        count = int(count or 0)
        try:
            if verb == "SOURCE":
                sent = 0
                while count == 0 or sent < count:
                    piece = BLOCK if count == 0 else BLOCK[: count - sent]
                    conn.sendall(piece)
                    sent += len(piece)
            elif verb == "SINK":
                got = 0
                while got < count:
                    data = conn.recv(65536)
                    if not data:
                        break
                    got += len(data)
                conn.sendall(b"OK %d\n" % got)
                conn.recv(1)
            elif verb == "ECHO":
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)
        except OSError:
            pass


def main() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
