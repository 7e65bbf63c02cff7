"""Running the ``atsock`` command in tests the way a user does: a separate process, on pipes or on a terminal."""
import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from typing import List

GUARD = 60  # seconds: only a guard against a hang, never a speed check


def atsock_command(*args) -> List[str]:
    return [sys.executable, "-m", "atsock", *map(str, args)]


def run_atsock(*args, stdin: str = None, env: dict = None, text: bool = True) -> subprocess.CompletedProcess:
    """Run to completion with stdin/stdout/stderr on pipes (no terminal anywhere)."""
    empty = "" if text else b""
    return subprocess.run(atsock_command(*args), input=stdin if stdin is not None else empty, capture_output=True,
                          text=text, timeout=GUARD, env=env)


class Server:
    """A long-running ``atsock socks`` / ``atsock forward``: its address from the first line it prints."""

    def __init__(self, *args):
        self.process = subprocess.Popen(atsock_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        first = self.first_line = self.process.stdout.readline()
        match = re.search(r"(127\.0\.0\.1|0\.0\.0\.0|\[::1\]):(\d+)", first)
        if not match:
            self.stop()
            raise RuntimeError(f"atsock did not start: {first!r} {self.stderr}")
        self.host, self.port = match.group(1).strip("[]"), int(match.group(2))
        self.address = f"{match.group(1)}:{self.port}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.stderr = self.process.communicate(timeout=GUARD)[1]
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.stderr = self.process.communicate()[1]
            raise AssertionError(f"atsock did not stop on SIGTERM: {self.stderr}") from None
        return self.process.returncode

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _take_terminal() -> None:
    """In the child: a session of its own with the pty as controlling terminal, so Ctrl-C is SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``atsock`` with a pty as its terminal (stdin, stdout and stderr), driven like a user at a keyboard."""

    def __init__(self, *args, stdout_to_terminal: bool = True, stdout_path: str = None, env: dict = None):
        self.master, slave = pty.openpty()
        stdout = slave
        self._stdout_file = None
        if not stdout_to_terminal:
            self._stdout_file = open(stdout_path, "wb")
            stdout = self._stdout_file
        self.process = subprocess.Popen(atsock_command(*args), stdin=slave, stdout=stdout, stderr=slave,
                                        env=env, preexec_fn=_take_terminal)
        os.close(slave)
        self.output = b""

    def mark(self) -> int:
        """A position in the output, for waiting on what appears after it."""
        return len(self.output)

    def read_until(self, pattern: bytes, since: int = 0) -> bytes:
        """Everything the terminal showed up to and including ``pattern`` (at or after ``since``);
        fails after the guard time."""
        deadline = time.monotonic() + GUARD
        while pattern not in self.output[since:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} never appeared; the terminal shows {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {pattern!r}; it showed {self.output[-2000:]!r}")
                self.output += chunk
        return self.output

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self) -> int:
        """Exit status, once the process ends (with everything it printed read)."""
        code = self.process.wait(timeout=GUARD)
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            try:
                chunk = os.read(self.master, 65536) if ready else b""
            except OSError:  # EIO: drained and closed
                chunk = b""
            if not chunk:
                break
            self.output += chunk
        self.close()
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._stdout_file:
            self._stdout_file.close()
        try:
            os.close(self.master)
        except OSError:
            pass
