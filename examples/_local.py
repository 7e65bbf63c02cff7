"""Local stand-ins for the examples' outside world: an HTTP server and a TCP sink on 127.0.0.1,
and an emulated ESP8285 that knows them by name. Only used when no --port is given."""
import hashlib
import http.server
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout too

WIFI = ("demo-net", "demo-pass")


def emulated_esp8285(**hosts):
    from fakemodem import FakeModem

    return FakeModem("esp8285", networks={WIFI[0]: WIFI[1]}, hosts=hosts)


def http_server(files: dict) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TcpSink:
    """Accepts one connection, reads to its end, and remembers size and SHA-256 of what came."""

    def __init__(self):
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1)
        self.port = self._sock.getsockname()[1]
        self.done = threading.Event()
        self.size, self.sha256 = 0, None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self._sock.accept()
        digest = hashlib.sha256()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                digest.update(data)
                self.size += len(data)
            conn.sendall(b"got %d bytes\n" % self.size)
        self.sha256 = digest.hexdigest()
        self.done.set()
        self._sock.close()
