"""Send a file to a TCP server through an ESP8285 (a port of MaixPy's ESP8285 example).

    python examples/esp_send_file.py                              # emulated ESP8285, local sink
    python examples/esp_send_file.py --port /dev/ttyS0 --ssid NET --key KEY --server host:5000 FILE
"""
import argparse
import hashlib
import os
import sys
import tempfile

from _local import WIFI, TcpSink, emulated_esp8285

import atsock as usocket
from atsock import network


def send_file(path: str, host: str, port: int) -> None:
    """MicroPython-style: stream the file in 2 KiB pieces, then close."""
    addr = usocket.getaddrinfo(host, port)[0][-1]
    sock = usocket.socket()
    sock.settimeout(30)
    sock.connect(addr)
    with open(path, "rb") as source:
        while True:
            piece = source.read(2048)
            if not piece:
                break
            sock.write(piece)
    sock.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="file to send (default: 200 KiB of random bytes)")
    parser.add_argument("--port", help="serial port of a real ESP8285/ESP8266 (default: emulated)")
    parser.add_argument("--ssid", default=WIFI[0])
    parser.add_argument("--key", default=WIFI[1])
    parser.add_argument("--server", help="HOST:PORT to send to (default: a local test sink)")
    args = parser.parse_args(argv)

    path, made_up = args.file, args.file is None
    if made_up:
        handle, path = tempfile.mkstemp(suffix=".bin")
        os.write(handle, os.urandom(200 * 1024))
        os.close(handle)
    emulator = sink = None
    if args.port is None:
        sink = TcpSink()
        host, port = "sink.test", sink.port
        emulator = emulated_esp8285(**{"sink.test": "127.0.0.1"})
        serial_port = emulator.port
    else:
        host, _, port = args.server.rpartition(":")
        port, serial_port = int(port), args.port
    try:
        nic = network.ESP8285(serial_port)
        nic.connect(args.ssid, args.key)
        send_file(path, host, port)
        if sink is not None:
            sink.done.wait(30)  # the sink has counted once it saw the end of the stream
        nic.close()
    finally:
        if emulator is not None:
            emulator.close()
    with open(path, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()
    print("sent %s (%d bytes, sha256 %s)" % (path, os.path.getsize(path), digest))
    if made_up:
        os.unlink(path)
    if sink is not None:
        print("server received %d bytes, sha256 %s: %s" % (sink.size, sink.sha256,
                                                          "match" if sink.sha256 == digest else "MISMATCH"))
        return 0 if sink.sha256 == digest else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
