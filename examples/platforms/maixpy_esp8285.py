# MaixPy: an ESP8285 wired to UART2, joined to Wi-Fi, then a download and an upload.
# Written in the idiom of MaixPy's ESP8285 examples; run by tests/test_platforms.py through
# atsock.micropython.load(path, flavour="maixpy", port=...) against an emulated module.
import network
import socket
import time
from board import board_info
from fpioa_manager import fm
from machine import UART

fm.register(board_info.WIFI_RX, fm.fpioa.UART2_TX, force=True)
fm.register(board_info.WIFI_TX, fm.fpioa.UART2_RX, force=True)
uart = UART(UART.UART2, 115200, timeout=1000, read_buf_len=4096)


def wifi_connect(ssid, key):
    nic = network.ESP8285(uart)
    nic.connect(ssid, key)
    print("ip:", nic.ifconfig())
    return nic


def download(host, port, path, out_name):
    addr = socket.getaddrinfo(host, port)[0][-1]
    sock = socket.socket()
    sock.settimeout(5)
    sock.connect(addr)
    sock.send(b"GET " + path + b" HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = b""
    while True:
        chunk = sock.recv(4096)
        if chunk == b"":
            break
        data += chunk
    sock.close()
    header, _, body = data.partition(b"\r\n\r\n")
    with open(out_name, "wb") as f:
        f.write(body)
    return header, len(body)


def upload(host, port, file_name):
    addr = socket.getaddrinfo(host, port)[0][-1]
    sock = socket.socket()
    sock.settimeout(5)
    sock.connect(addr)
    sent = 0
    t0 = time.ticks_ms()
    with open(file_name, "rb") as f:
        while True:
            buf = f.read(2048)
            if not buf:
                break
            sent += sock.send(buf)
    print("sent %d bytes in %d ms" % (sent, time.ticks_diff(time.ticks_ms(), t0)))
    sock.close()
    return sent
