"""A TCP relay that holds every piece for a fixed time each way: a network's latency on loopback.

    python -m bench.delay TARGET_PORT ONE_WAY_SECONDS     # prints the port it listens on

It stands between atsock and ser2net in the benchmark's remote rows: ``tc netem`` on ``lo`` would
delay every loopback packet of the machine (other programs' too), this delays only its own
connections. Each piece read is written ``ONE_WAY_SECONDS`` after it arrived, in order, with no
limit on the rate: the delay of a path whose bandwidth outruns a serial line.
"""
import asyncio
import collections
import sys


class _Direction(asyncio.Protocol):
    """Bytes read on one side, written on the other ``delay`` seconds later (one timer at a time)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.transport = None
        self.peer = None  # the other side's _Direction
        self._due = collections.deque()
        self._timer = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._due.append((loop.time() + self.delay, data))
        if self._timer is None:
            self._timer = loop.call_at(self._due[0][0], self._release)

    def _release(self) -> None:
        loop = asyncio.get_running_loop()
        if self.peer.transport is None:  # the far side is still connecting: its bytes wait
            self._timer = loop.call_later(0.001, self._release)
            return
        while self._due and self._due[0][0] <= loop.time():
            self.peer.transport.write(self._due.popleft()[1])
        self._timer = loop.call_at(self._due[0][0], self._release) if self._due else None

    def connection_lost(self, exc) -> None:
        if self.peer.transport is not None:
            asyncio.get_running_loop().call_later(self.delay + 0.001, self.peer.transport.close)  # after the last piece


async def main(target: int, delay: float) -> None:
    loop = asyncio.get_running_loop()

    async def connect(near: _Direction, far: _Direction) -> None:
        try:
            await loop.create_connection(lambda: far, "127.0.0.1", target)
        except OSError:
            near.transport.close()

    def accept() -> _Direction:
        near, far = _Direction(delay), _Direction(delay)
        near.peer, far.peer = far, near
        loop.create_task(connect(near, far))
        return near

    server = await loop.create_server(accept, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
