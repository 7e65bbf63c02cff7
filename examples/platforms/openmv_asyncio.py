# OpenMV: sockets with asyncio, as the networking guide ends: a client, a server, and both running
# in one event loop beside other work (here a heartbeat). MicroPython code, unmodified: run through
# atsock.micropython.load(path) (examples/asyncio_streams.py, tests/test_asyncio.py), its
# "import asyncio" is atsock.asyncio and every stream goes through the modem.
import asyncio
import time


async def client(host, port, message):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(message + b"\n")
    await writer.drain()                   # wait until the bytes have been sent
    reply = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return reply


async def handle(reader, writer):
    peer = writer.get_extra_info("peername")
    while True:
        line = await reader.readline()
        if not line:                       # the client closed
            break
        writer.write(b"cam %s:%d says " % (peer[0].encode(), peer[1]) + line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def heartbeat(beats, period_ms):
    while True:
        beats.append(time.ticks_ms())
        await asyncio.sleep_ms(period_ms)


async def main(host, port, server_port):
    beats = []
    beating = asyncio.create_task(heartbeat(beats, 20))
    server = await asyncio.start_server(handle, "0.0.0.0", server_port)
    try:
        # two clients at once, each bounded in time
        replies = await asyncio.gather(
            asyncio.wait_for(client(host, port, b"frame 1"), 10),
            asyncio.wait_for(client(host, port, b"frame 2"), 10),
        )
        # and a client of our own server, through the modem both ways
        own = await asyncio.wait_for(client("127.0.0.1", server_port, b"status?"), 10)
    finally:
        beating.cancel()
        server.close()
        await server.wait_closed()
    return replies, own, len(beats)


def run(host, port, server_port):
    return asyncio.run(main(host, port, server_port))
