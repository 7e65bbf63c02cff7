# QuecPython: wait for the network, then TCP client, TCP server and UDP with usocket.
# Written in the idiom of QuecPython's own examples; run by tests/test_platforms.py through
# atsock.micropython.load(path, flavour="quecpython") against an emulated module.
import checkNet
import log
import usocket
import utime

PROJECT_NAME = "QuecPython_Socket_example"
PROJECT_VERSION = "1.0.0"

checknet = checkNet.CheckNetwork(PROJECT_NAME, PROJECT_VERSION)

log.basicConfig(level=log.INFO)
socket_log = log.getLogger("SOCKET")


def wait_network(timeout=30):
    checknet.poweron_print_once()
    stagecode, subcode = checknet.wait_network_connected(timeout)
    if stagecode == 3 and subcode == 1:
        socket_log.info("network ready")
        return True
    socket_log.error("network not ready: stagecode %d, subcode %d" % (stagecode, subcode))
    return False


def http_get(host, port=80):
    sock = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_TCP)
    sockaddr = usocket.getaddrinfo(host, port)[0][-1]
    sock.connect(sockaddr)
    sock.send('GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % host)
    response = b''
    while True:
        data = sock.recv(256)
        if not data:
            break
        response += data
    sock.close()
    socket_log.info("received %d bytes" % len(response))
    return response


def tcp_server(port):
    sock = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_TCP_SER)
    sock.bind(('', port))
    sock.listen(10)
    return sock


def serve_once(sock):
    cli_conn, ip, port = sock.accept()
    socket_log.info("client %s:%d" % (ip, port))
    data = cli_conn.recv(1024)
    cli_conn.send(b'QuecPython got: ' + data)
    cli_conn.close()
    sock.close()
    return ip, port


def udp_exchange(host, port, message):
    sock = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    sock.settimeout(10)
    sockaddr = usocket.getaddrinfo(host, port)[0][-1]
    sock.sendto(message, sockaddr)
    start = utime.ticks_ms()
    data, addr = sock.recvfrom(1024)
    socket_log.info("udp reply from %s after %d ms" % (addr, utime.ticks_diff(utime.ticks_ms(), start)))
    sock.close()
    return data


if __name__ == '__main__':
    if wait_network():
        print(http_get('www.example.test'))
