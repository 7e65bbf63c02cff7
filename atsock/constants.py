"""Socket constants, with the host's values so CPython code comparing against ``socket.*`` agrees."""
import socket as _std

AF_INET = _std.AF_INET
AF_INET6 = _std.AF_INET6
SOCK_STREAM = _std.SOCK_STREAM
SOCK_DGRAM = _std.SOCK_DGRAM
SOCK_RAW = _std.SOCK_RAW
IPPROTO_IP = _std.IPPROTO_IP
IPPROTO_TCP = _std.IPPROTO_TCP
IPPROTO_UDP = _std.IPPROTO_UDP
SOL_SOCKET = _std.SOL_SOCKET
SO_REUSEADDR = _std.SO_REUSEADDR
