"""ESP-AT's numbers: links, sizes, and response times (seconds) with margins over the docs'."""
import errno

MAX_LINKS = 5
SEND_MAX = 2048          # AT 1.x and every ESP8266 2.x build
SEND_MAX_LARGE = 8192    # v2.3.0.0 on ESP32-C3 and every release from v2.4.0.0


def recv_limit(major: int) -> int:
    """The bytes to ask for per AT+CIPRECVDATA on this firmware generation."""
    return RECV_CHUNK_2X if major >= 2 else RECV_CHUNK


def send_limit(major: int, minor: int, version_line: str) -> int:
    """The most bytes one AT+CIPSEND takes on the firmware AT+GMR described."""
    if (major, minor) >= (2, 4) or ((major, minor) == (2, 3) and "ESP32C3" in version_line.upper()):
        return SEND_MAX_LARGE
    return SEND_MAX
RECV_CHUNK = 2048        # bytes asked per AT+CIPRECVDATA on 1.x, as Zephyr does (1.x documents no maximum)
RECV_CHUNK_2X = 8192     # on 2.x, which documents up to 0x7fffffff (at <len>+128 bytes of heap): a whole
                         # receive window (5760) in one read
FRAME_MAX = 8192         # bound on any announced +IPD / +CIPRECVDATA length
READ_TRAILER = b"\r\nOK\r\n"  # after the data of a +CIPRECVDATA answer (at-reference §8.3)

T_QUERY = 2.0
T_READY = 10.0           # AT+RST to "ready" (TinyGSM waits 10 s)
T_JOIN = 30.0            # AT+CWJAP (2.x default jap_timeout 15 s; TinyGSM allows 30 s)
T_CIPSTART = 20.0        # a TCP connect runs inside the command
T_SSL_START = 60.0       # ... and an SSL link's handshake too, 10 s per packet (ESP-AT's note)
T_CIPSEND = 20.0
T_DNS = 20.0
T_CIPCLOSE = 10.0

BUSY = frozenset({"busy p...", "busy s..."})

#: +CWJAP:<code> as (errno, explanation, the open_modem setting to look at)
JOIN_ERRORS = {
    1: (errno.ETIMEDOUT, "Wi-Fi join timed out", None),
    2: (errno.EACCES, "wrong Wi-Fi password", "key"),
    3: (errno.ENETUNREACH, "Wi-Fi network not found", "ssid"),
    4: (errno.ECONNREFUSED, "Wi-Fi access point refused the connection", None),
}
