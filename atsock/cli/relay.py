"""Host clients relayed over the modem's sockets, for ``atsock socks`` and ``atsock forward``.

One thread per direction per connection: a modem socket's blocking ``recv`` waits on the engine's
loop, and the module has few sockets (12 on Quectel, 5 on ESP), so at most a few dozen threads.
On the emulator the proxy process spends about the CPU per MiB that ``atsock get`` spends (the
driver's work dominates; the copying threads add nothing measurable) and reaches the line rate.

The module's sockets are counted here (:class:`Slots`): a client that finds them all in use waits
at most ``wait`` seconds for one and is then turned away, so nothing queues without bound. A modem
socket has no half-close, so when the client stops sending, the modem side is closed; when the
peer stops, the client gets FIN after the last byte.
"""
import errno
import logging
import signal
import socket
import sys
import threading
from typing import Callable, Set

from .exporter import metrics_served
from .options import listener, open_modem

log = logging.getLogger("atsock.cli.relay")

CHUNK = 64 * 1024
ACCEPT_WAKEUP = 0.5  # seconds


class Slots:
    """How many of the module's sockets the relay may still use."""

    def __init__(self, count: int):
        self.count = count
        self._free = threading.BoundedSemaphore(count)

    def take(self, wait: float) -> bool:
        return self._free.acquire(timeout=wait) if wait > 0 else self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()


class Pipe:
    """Copies a host client and a modem socket into each other until either side ends."""

    def __init__(self, client: socket.socket, remote, on_done: Callable[[], None], name: str):
        self.client = client
        self.remote = remote
        self.name = name
        self._on_done = on_done
        self._lock = threading.Lock()
        self._remote_closed = False
        self._running = 2

    def start(self) -> None:
        threading.Thread(target=self._upstream, name=f"{self.name} up", daemon=True).start()
        threading.Thread(target=self._downstream, name=f"{self.name} down", daemon=True).start()

    def _upstream(self) -> None:
        try:
            while True:
                data = self.client.recv(CHUNK)
                if not data:
                    break
                self.remote.sendall(data)
        except OSError as exc:
            log.debug("%s: client -> modem ended: %s", self.name, exc)
        self._close_remote()
        self._ended()

    def _downstream(self) -> None:
        clean = False
        try:
            while True:
                data = self.remote.recv(CHUNK)
                if not data:
                    clean = True
                    break
                self.client.sendall(data)
        except OSError as exc:
            log.debug("%s: modem -> client ended: %s", self.name, exc)
        self._close_remote()
        try:  # FIN after the last byte; after an error also wake the upstream thread's recv
            self.client.shutdown(socket.SHUT_WR if clean else socket.SHUT_RDWR)
        except OSError:
            pass
        self._ended()

    def _close_remote(self) -> None:
        with self._lock:
            if self._remote_closed:
                return
            self._remote_closed = True
        try:
            self.remote.close()
        except OSError as exc:
            log.debug("%s: closing the modem socket: %s", self.name, exc)
        self._on_done()  # the module's socket is free again

    def _ended(self) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self.client.close()
            log.info("%s: closed", self.name)

    def stop(self) -> None:
        """Shut down from outside (the server stops): both threads wake and finish."""
        try:
            self.client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._close_remote()


class Server:
    """Accepts host clients and hands each one to ``handle(client, address)`` on its own thread."""

    def __init__(self, listener: socket.socket, slots: Slots, handle: Callable[[socket.socket, tuple], None]):
        self.listener = listener
        self.slots = slots
        self._handle = handle
        self.pipes: Set[Pipe] = set()
        self._lock = threading.Lock()

    def serve_forever(self) -> None:
        """Until Ctrl-C or SIGTERM; then every relayed connection is closed."""
        signal.signal(signal.SIGTERM, _interrupt)
        # A signal may be delivered to another thread; Python then runs its handler only when the main
        # thread next wakes, so accept() must not block for long.
        self.listener.settimeout(ACCEPT_WAKEUP)
        try:
            while True:
                try:
                    client, address = self.listener.accept()
                except socket.timeout:
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE):  # host out of descriptors: let some close
                        log.warning("cannot accept a client: %s", exc)
                        threading.Event().wait(0.1)
                        continue
                    raise
                client.settimeout(None)
                threading.Thread(target=self._run, args=(client, address), name=f"client {address[1]}",
                                 daemon=True).start()
        finally:
            self.listener.close()
            with self._lock:
                pipes = list(self.pipes)
            for pipe in pipes:
                pipe.stop()

    def _run(self, client: socket.socket, address: tuple) -> None:
        try:
            self._handle(client, address)
        except Exception:
            log.exception("client %s failed", address)
            client.close()

    def relay(self, client: socket.socket, remote, name: str) -> None:
        """Start copying between a client and the modem socket it holds a slot for."""
        def done():
            self.slots.give_back()
            with self._lock:
                self.pipes.discard(pipe)

        pipe = Pipe(client, remote, done, name)
        with self._lock:
            self.pipes.add(pipe)
        log.info("%s: connected", name)
        pipe.start()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a server as Ctrl-C does: connections closed, then the modem


def serve_through_modem(args, serve_client, describe) -> int:
    """Open the modem, accept clients on ``args.listen`` and hand each to
    ``serve_client(client, address, modem, server, args)`` until interrupted, with its metrics at
    ``args.metrics`` if given; ``describe(listening)`` begins the first line printed (what listens where)."""
    listening = listener(args.listen)
    with open_modem(args) as modem, metrics_served(args.metrics, modem) as metrics:
        slots = Slots(modem.max_sockets)
        server = Server(listening, slots, lambda client, address: serve_client(client, address, modem, server, args))
        print(f"{describe(listening).rstrip()} ({modem.dialect_class.name} modem on {args.port}, {slots.count} sockets)"
              + (f", metrics at {metrics}" if metrics else ""), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return 0
