"""The plain socket's argument checks, for every socket-like class atsock has.

CPython parses a socket method's arguments (types, then ranges) before the call looks at the
socket or the network; atsock's plain socket does the same, and so must its TLS sockets, its TLS
listener and any socket-like class added later. :data:`CHECKS` holds one check per method name,
written once: it takes the caller's arguments as the plain socket's method takes them and returns
them made plain (ints, bytes, a writable byte view, a checked address), or raises what CPython
raises. A class deriving from :class:`SocketArguments` has each method whose name is in
:data:`CHECKS` wrapped by that check when the class is made, so its body only ever sees checked
arguments; ``tests/test_socket_likes.py`` finds every socket-like class in atsock and fails if one
does not derive from it.
"""
import functools
import inspect

from . import arguments, inet

class _Unset:
    """An argument not given (None is a value CPython refuses for some): ``help()`` and the API
    reference say so rather than show a sentinel's name."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET = _Unset()


def _size_and_flags(size, flags, method: str) -> tuple:
    size, flags = arguments.ssize(size), arguments.flags(flags)
    return arguments.not_negative(size, method), flags


def _buffer_count_and_flags(buffer, nbytes, flags, method: str) -> tuple:
    view = arguments.writable(buffer, method)
    nbytes, flags = arguments.ssize(nbytes), arguments.flags(flags)
    return view, arguments.nbytes(nbytes, len(view), method), flags


# --- one check per method: the plain socket's arguments, in CPython's order ----------------------
def recv(sock, bufsize, flags=0):
    return _size_and_flags(bufsize, flags, "recv")


def recvfrom(sock, bufsize, flags=0):
    return _size_and_flags(bufsize, flags, "recvfrom")


def recv_into(sock, buffer, nbytes=0, flags=0):
    return _buffer_count_and_flags(buffer, nbytes, flags, "recv_into")


def recvfrom_into(sock, buffer, nbytes=0, flags=0):
    return _buffer_count_and_flags(buffer, nbytes, flags, "recvfrom_into")


def send(sock, data, flags=0):
    return arguments.data_bytes(data, "send"), arguments.flags(flags)


def sendall(sock, data, flags=0):
    return arguments.data_bytes(data, "sendall"), arguments.flags(flags)


def sendto(sock, data, flags_or_address, address=UNSET):
    """``sendto(data, address)`` or ``sendto(data, flags, address)``; returns ``(data, flags, (host, port))``."""
    flags, address = (0, flags_or_address) if address is UNSET else (flags_or_address, address)
    data, flags = arguments.data_bytes(data, "sendto"), arguments.flags(flags)
    return data, flags, inet.destination(address, sock.family, "sendto")


def connect(sock, address):
    return (inet.destination(address, sock.family, "connect"),)


def connect_ex(sock, address):
    return (inet.destination(address, sock.family, "connect_ex"),)


def bind(sock, address):
    return (inet.destination(address, sock.family, "bind"),)


def listen(sock, backlog=UNSET):
    return (backlog if backlog is UNSET else arguments.backlog(backlog),)


def settimeout(sock, value):
    return (arguments.timeout(value),)


def setblocking(sock, flag):
    return (arguments.flag(flag),)


def setsockopt(sock, level, option, value, optlen=None):
    return arguments.flags(level), arguments.flags(option), arguments.option_value(value), optlen


def getsockopt(sock, level, option, buflen=0):
    return arguments.flags(level), arguments.flags(option), arguments.option_buflen(buflen)


def read(sock, size=-1):
    """MicroPython's ``read([size])``: None or a negative size read to the end of the stream."""
    limit = None if size is None else arguments.flags(size)
    return (None if limit is not None and limit < 0 else limit,)


def readinto(sock, buf, nbytes=None):
    return arguments.writable(buf, "readinto"), None if nbytes is None else arguments.size(nbytes, "readinto")


def write(sock, buf, off_or_len=None, max_len=None):
    """MicroPython's ``write(buf[, len])`` / ``write(buf, off, len)``."""
    return (arguments.data_bytes(buf, "write"), None if off_or_len is None else arguments.size(off_or_len, "write"),
            None if max_len is None else arguments.size(max_len, "write"))


CHECKS = {check.__name__: check for check in (
    recv, recvfrom, recv_into, recvfrom_into, send, sendall, sendto, connect, connect_ex, bind, listen,
    settimeout, setblocking, setsockopt, getsockopt, read, readinto, write)}


# --- applying them --------------------------------------------------------------------------------
def _checked(body, check):
    @functools.wraps(body)
    def method(self, *args, **kwargs):
        return body(self, *check(self, *args, **kwargs))

    signature = inspect.signature(check)  # what callers see: the plain socket's arguments
    first, *rest = signature.parameters.values()
    method.__signature__ = signature.replace(parameters=[first.replace(name="self"), *rest])
    method.arguments_check = check
    return method


class SocketArguments:
    """Base of every socket-like class: each method a subclass defines whose name is in
    :data:`CHECKS` takes its arguments through that check, and its body gets them checked."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, check in CHECKS.items():
            body = cls.__dict__.get(name)
            if callable(body) and getattr(body, "arguments_check", None) is not check:
                setattr(cls, name, _checked(body, check))


def is_checked(method) -> bool:
    """Whether ``method`` (a function of a socket-like class) runs its name's check first."""
    check = CHECKS.get(getattr(method, "__name__", None))
    return check is not None and getattr(method, "arguments_check", None) is check
