"""Download a file over HTTP through an ESP8285 and save it (a port of MaixPy's ESP8285 example).

    python examples/esp_http_download.py                          # emulated ESP8285, local server
    python examples/esp_http_download.py --port /dev/ttyS0 --ssid NET --key KEY http://host/file.bin

The board-specific part of the MaixPy original (FPIOA pin mapping, the enable pin) is gone: the
module is on a serial port of the Pi.
"""
import argparse
import hashlib
import os
import sys

from _local import WIFI, emulated_esp8285, http_server

import atsock as usocket
from atsock import network


def download(url: str, path: str) -> int:
    """MicroPython-style: one socket, HTTP/1.0, headers skipped, body streamed to a file."""
    _, _, host_port, resource = url.split("/", 3)
    host, _, port = host_port.partition(":")
    addr = usocket.getaddrinfo(host, int(port or 80))[0][-1]
    sock = usocket.socket()
    sock.settimeout(30)
    sock.connect(addr)
    sock.write(b"GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (resource.encode(), host.encode()))
    status = sock.readline()
    if b" 200 " not in status:
        raise OSError("HTTP error: %r" % status)
    while sock.readline() not in (b"\r\n", b""):
        pass
    size = 0
    with open(path, "wb") as out:
        while True:
            data = sock.recv(2048)
            if not data:
                break
            out.write(data)
            size += len(data)
    sock.close()
    return size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="file to fetch (default: a file on a local test server)")
    parser.add_argument("--port", help="serial port of a real ESP8285/ESP8266 (default: emulated)")
    parser.add_argument("--ssid", default=WIFI[0])
    parser.add_argument("--key", default=WIFI[1])
    parser.add_argument("--out", default="download.bin", help="where to save the file")
    args = parser.parse_args(argv)

    emulator = server = blob = None
    url, port = args.url, args.port
    if port is None:
        blob = os.urandom(256 * 1024)
        server = http_server({"/firmware.bin": blob})
        url = url or "http://files.test:%d/firmware.bin" % server.server_address[1]
        emulator = emulated_esp8285(**{"files.test": "127.0.0.1"})
        port = emulator.port
    try:
        nic = network.ESP8285(port)
        nic.connect(args.ssid, args.key)
        print("Wi-Fi up:", nic.ifconfig())
        size = download(url, args.out)
        nic.close()
    finally:
        if server is not None:
            server.shutdown()
        if emulator is not None:
            emulator.close()
    with open(args.out, "rb") as saved:
        digest = hashlib.sha256(saved.read()).hexdigest()
    print("saved %d bytes to %s, sha256 %s" % (size, args.out, digest))
    if blob is not None:
        served = hashlib.sha256(blob).hexdigest()
        print("the local server sent sha256 %s: %s" % (served, "match" if served == digest else "MISMATCH"))
        return 0 if served == digest else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
