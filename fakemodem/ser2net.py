"""The emulator on the network: Debian's ``ser2net`` (version 4, YAML configuration) in front of
its pty, as a modem farm's host runs it in front of a USB port.

    with FakeModem("quectel") as fm, Ser2net(fm.port) as server:
        modem = atsock.open_modem(server.url, ...)          # rfc2217://127.0.0.1:<port>

ser2net listens on 127.0.0.1 only, at a port free when it starts (kept across :meth:`stop` and
:meth:`start`, so a client can come back to the same URL). ``telnet=False`` serves the port raw
(``socket://``). ``tuned`` applies the settings docs/remote.md recommends for a modem (no
character delay, 4 KiB buffers, TCP_NODELAY); without it ser2net runs with its defaults.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Dict, Optional

TUNED = {"chardelay": "false", "dev-to-net-bufsize": "4096", "net-to-dev-bufsize": "4096"}
START_TIMEOUT = 10.0


def find_binary() -> Optional[str]:
    for candidate in (shutil.which("ser2net"), "/usr/sbin/ser2net"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Ser2net:
    def __init__(self, device: str, *, telnet: bool = True, tuned: bool = True, baudrate: int = 115200,
                 options: Optional[Dict[str, str]] = None, binary: Optional[str] = None):
        self.binary = binary or find_binary()
        if self.binary is None:
            raise RuntimeError("ser2net is not installed (Debian: apt-get install ser2net)")
        self.port = free_port()
        self.telnet = telnet
        self.url = f"{'rfc2217' if telnet else 'socket'}://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="ser2net-")
        self.config = os.path.join(self._dir.name, "ser2net.yaml")
        settings = {**(TUNED if tuned else {}), "kickolduser": "true", **(options or {})}
        tcp = "tcp(nodelay)" if tuned else "tcp"
        accepter = f"telnet(rfc2217),{tcp},127.0.0.1,{self.port}" if telnet else f"{tcp},127.0.0.1,{self.port}"
        lines = ["connection: &modem", f"  accepter: {accepter}",
                 f"  connector: serialdev,{device},{baudrate}n81,local", "  options:"]
        lines += [f"    {name}: {value}" for name, value in settings.items()]
        with open(self.config, "w") as file:
            file.write("\n".join(lines) + "\n")
        self.process: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        """Run ser2net (again) and return once it accepts connections."""
        # -n: stay in the foreground; -u: no UUCP lock files; -P: a pid file of our own
        self.process = subprocess.Popen([self.binary, "-n", "-u", "-c", self.config,
                                         "-P", os.path.join(self._dir.name, "pid")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"ser2net exited: {self.process.stderr.read().decode(errors='replace')}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("ser2net did not start listening")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop ser2net: its connections close, as when a modem's host goes down."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> "Ser2net":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
