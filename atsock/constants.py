"""Socket constants: the host's values where CPython has them, so code comparing against
``socket.*`` agrees; QuecPython's and MicroPython's extras where it does not."""
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
SO_KEEPALIVE = _std.SO_KEEPALIVE
SO_ERROR = _std.SO_ERROR
SO_TYPE = _std.SO_TYPE
TCP_NODELAY = _std.TCP_NODELAY  # accepted and reported; the modules have no Nagle switch
#: keepalive idle time in minutes (QuecPython); 0x10 keeps clear of Linux's SOL_SOCKET numbers
TCP_KEEPALIVE = 0x10
MSG_PEEK = _std.MSG_PEEK
MSG_DONTWAIT = _std.MSG_DONTWAIT
