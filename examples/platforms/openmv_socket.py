# OpenMV: TCP client and server with "with socket.socket(...)", and UDP sendto/recvfrom.
# Written in the idiom of OpenMV's network examples; run by tests/test_platforms.py through
# atsock.micropython.load(path) against an emulated module that is already online.
import socket


def tcp_client(host, port, message):
    addr = socket.getaddrinfo(host, port)[0][-1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(addr)
        client.sendall(message)
        return client.recv(1024)


def tcp_server(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(["", port])
    server.listen(1)
    return server


def serve_once(server):
    with server:
        client, addr = server.accept()
        with client:
            client.settimeout(10)
            request = client.recv(1024)
            client.send(b"OpenMV echo: " + request)
        return addr


def udp_exchange(host, port, message):
    addr = socket.getaddrinfo(host, port)[0][-1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(10)
        udp.sendto(message, addr)
        data, sender = udp.recvfrom(1024)
        return data, sender
