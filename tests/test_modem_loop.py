"""The modem's event loop: code that calls ``asyncio.run(main())`` and uses the loop's own network
methods (``create_connection``, ``getaddrinfo``, ``sock_connect``, ``create_datagram_endpoint``,
``sock_sendfile``) reaches the modem; MicroPython's ``get_event_loop``/``Loop``/``sleep_ms``."""
import asyncio as host_asyncio
import socket as std_socket
import warnings

import pytest

from atsock import asyncio
from atsock.standard import socket as modem_socket


def opened_to(fake_modem, port):
    return any(line.startswith(("AT+QIOPEN", "AT+CIPSTART")) and f",{port}" in line
               for line in fake_modem.received_commands)


class Collect(host_asyncio.Protocol):
    def __init__(self):
        self.data = bytearray()
        self.done = host_asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data
        if len(self.data) >= 5:
            self.done.set_result(bytes(self.data))


def test_run_gives_a_loop_whose_network_methods_use_the_modem(modem, fake_modem, echo_server, udp_echo):
    async def main():
        loop = host_asyncio.get_running_loop()
        assert isinstance(loop, asyncio.ModemEventLoop)
        infos = await loop.getaddrinfo("www.test", echo_server.port, type=modem_socket.SOCK_STREAM)
        assert infos[0][4] == ("127.0.0.1", echo_server.port)

        transport, protocol = await loop.create_connection(Collect, "echo.test", echo_server.port)
        assert protocol.transport is transport  # connection_made ran before create_connection returned
        transport.write(b"hello")
        assert await protocol.done == b"hello"
        transport.close()

        reader, writer = await host_asyncio.open_connection("echo.test", echo_server.port)  # the host's streams
        writer.write(b"streams\n")
        assert await reader.readline() == b"streams\n"
        writer.close()

        sock = modem_socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("echo.test", echo_server.port))
        await loop.sock_sendall(sock, b"sock_*")
        assert await loop.sock_recv(sock, 100) == b"sock_*"
        sock.close()

        received = loop.create_future()
        udp, _ = await loop.create_datagram_endpoint(
            lambda: type("P", (host_asyncio.DatagramProtocol,),
                         {"datagram_received": lambda self, data, addr: received.set_result(data)})(),
            remote_addr=("www.test", udp_echo.port))
        udp.sendto(b"datagram")
        assert await received == b"datagram"
        udp.close()

    asyncio.run(main())
    assert opened_to(fake_modem, echo_server.port)
    assert any(line.startswith(("AT+QIOPEN", "AT+CIPSTART")) and "UDP" in line for line in fake_modem.received_commands)


def test_sock_sendfile_goes_through_send(modem, echo_server, tmp_path):
    payload = bytes(range(256)) * 100
    (tmp_path / "file").write_bytes(payload)

    async def main():
        loop = host_asyncio.get_running_loop()
        sock = modem_socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("echo.test", echo_server.port))
        with open(tmp_path / "file", "rb") as file:
            assert await loop.sock_sendfile(sock, file, 100, 10_000) == 10_000
        echoed = b""
        while len(echoed) < 10_000:
            echoed += await loop.sock_recv(sock, 65536)
        sock.close()
        return echoed

    assert asyncio.run(main()) == payload[100:10_100]


def test_micropythons_loop_names_run_without_warnings(modem, echo_server):
    seen = []

    async def talk():
        reader, writer = await asyncio.open_connection("echo.test", echo_server.port)
        await writer.awrite(b"ping\n")
        seen.append(await reader.readline())
        await writer.aclose()

    async def stopper():
        await asyncio.sleep_ms(10)
        asyncio.Loop.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # CPython warns about get_event_loop(); MicroPython code calls it
        loop = asyncio.get_event_loop()
        assert isinstance(loop, asyncio.ModemEventLoop) and asyncio.get_event_loop() is loop
        loop.run_until_complete(talk())
        asyncio.Loop.create_task(stopper())
        asyncio.Loop.run_forever()
        loop.close()
        assert asyncio.get_event_loop() is not loop  # a closed loop is replaced, as MicroPython's new one
        fresh = asyncio.new_event_loop()
        assert asyncio.get_event_loop() is fresh  # as MicroPython's new_event_loop() resets the loop
        fresh.close()
    assert seen == [b"ping\n"]


def test_sleep_ms_takes_what_micropython_takes():
    longest = (1 << 29) - 1  # time.ticks_add(0, -1) // 2: MicroPython's own test of the bound
    asyncio.sleep_ms(longest).close()
    asyncio.sleep_ms(-5).close()
    with pytest.raises(OverflowError):
        asyncio.sleep_ms(longest + 1)  # raised by the call, before any await, as there
    with pytest.raises(TypeError):
        asyncio.sleep_ms(1.5)
    from atsock.platforms import utime
    with pytest.raises(OverflowError):
        utime.ticks_add(0, 1 << 29)
    assert utime.ticks_diff(utime.ticks_add(7, longest), 7) == longest


def test_a_host_socket_given_to_the_loop_stays_the_hosts(echo_server):
    async def main():
        loop = host_asyncio.get_running_loop()
        host = std_socket.create_connection(("127.0.0.1", echo_server.port))
        transport, protocol = await loop.create_connection(Collect, sock=host)
        transport.write(b"local")
        assert await protocol.done == b"local"
        transport.close()

    asyncio.run(main())  # no modem is open: nothing here needed one
