"""The far end of the benchmark's connections, in a process of its own so its CPU is not counted.

One line per connection says what to do: ``SOURCE <n>`` (send n bytes, or endlessly for 0, then
close), ``SINK <n>`` (read n bytes, answer ``OK <n>``; for 0, read until the client closes),
``ECHO`` (send back what comes), ``DUPLEX`` (send endlessly and read everything, at once). Prints
its port on the first line of stdout. ``--tls CERT KEY`` makes it a TLS server with that
certificate and key (PEM files).
"""
import os
import socket
import ssl
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
            elif verb == "SINK" and count == 0:
                while conn.recv(65536):
                    pass
            elif verb == "SINK":
                got = 0
                while got < count:
                    data = conn.recv(65536)
                    if not data:
                        break
                    got += len(data)
                conn.sendall(b"OK %d\n" % got)
                conn.recv(1)
            elif verb == "DUPLEX":
                threading.Thread(target=_flood, args=(conn,), daemon=True).start()
                while conn.recv(65536):
                    pass
            elif verb == "ECHO":
                echo(conn)
        except OSError:
            pass


def echo(conn: socket.socket) -> None:
    """Sends back what comes, until the other end closes."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def _flood(conn: socket.socket) -> None:
    try:
        while True:
            conn.sendall(BLOCK)
    except OSError:
        pass


def serve_tls(conn: socket.socket, context: ssl.SSLContext) -> None:
    try:
        conn = context.wrap_socket(conn, server_side=True)
    except OSError:
        conn.close()
        return
    serve(conn)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    context = None
    if argv[:1] == ["--tls"]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(argv[1], argv[2])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        target, args = (serve, (conn,)) if context is None else (serve_tls, (conn, context))
        threading.Thread(target=target, args=args, daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
