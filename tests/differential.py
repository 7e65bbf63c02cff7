"""The differential test's parts: arbitrary calls of socket methods, run on an atsock socket and on
a CPython socket in the same state, and the rule that says whether the two outcomes agree.

The rule: the same exception type, or both returning the same value (the same bytes for data, the
same buffer content for ``recv_into``). Nothing else may differ but what is listed here, each with
its reason and counted each time it is needed (so one that never matches shows in the report):

* :data:`STAND_INS`: what CPython is given instead of the caller's argument, where atsock reads
  that argument as something else on purpose (a ``str`` as its UTF-8 bytes), where CPython would
  allocate a huge buffer first, or where CPython would ask the network's name service (traffic
  stays on loopback: such a call is not made, its answer taken to be ``gaierror``);
* :data:`DIFFERENCES`: named predicates over a call and both outcomes.
"""
import array
import errno
import ipaddress
import math
import operator
import re
import socket as std
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from hypothesis import strategies as st

import atsock

# --- arbitrary values ---------------------------------------------------------------------------


class LyingInt(int):
    """An int whose text would smuggle a command into an AT line if anyone formatted it."""

    def __format__(self, spec):
        return "80\rAT+GMR\r"

    __str__ = __repr__ = lambda self: "80\rAT+GMR\r"


class FloatLike:
    """Has ``__float__`` but no ``__index__``: CPython refuses it as a timeout."""

    def __float__(self):
        return 1.0

    def __repr__(self):
        return "FloatLike()"


EDGE_INTS = [0, 1, -1, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1, 2 ** 32, 2 ** 63 - 1,
             2 ** 63, -2 ** 63, -2 ** 63 - 1, 2 ** 64, 2 ** 100, -2 ** 100]
ints = st.one_of(st.integers(-3, 2000), st.sampled_from(EDGE_INTS), st.integers())
lying_ints = ints.map(LyingInt)
floats = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.5, -1.0, math.nan, math.inf, -math.inf, 1e300, 9.3e9, 1e-12]),
                   st.floats())
junk = st.one_of(st.none(), st.booleans(), ints, lying_ints, floats, st.text(max_size=6), st.binary(max_size=6),
                 st.just([1, 2]), st.just({}), st.just(()), st.tuples(ints), st.just(FloatLike()))


def _non_contiguous(data: bytes) -> memoryview:
    return memoryview(data * 2)[::2]


payload = st.binary(max_size=600)
data_args = st.one_of(
    payload, payload.map(bytearray), payload.map(memoryview), payload.map(lambda b: array.array("B", b)),
    st.binary(min_size=2, max_size=40).map(_non_contiguous), st.text(max_size=40), junk)

WRITABLE_KINDS = ("bytearray", "memoryview", "array", "array-i", "2d", "bytes", "str", "strided", "none")


@dataclass
class Buffer:
    """A receive buffer, made afresh for each side (each must write into its own)."""
    kind: str
    size: int

    def make(self):
        k, n = self.kind, self.size
        if k == "bytearray":
            return bytearray(n)
        if k == "memoryview":
            return memoryview(bytearray(n))
        if k == "array":
            return array.array("B", bytes(n))
        if k == "array-i":
            return array.array("i", [0] * n)
        if k == "2d":
            return memoryview(bytearray(2 * n)).cast("B", (2, n)) if n else memoryview(bytearray(2))
        if k == "bytes":
            return bytes(n)
        if k == "str":
            return "x" * n
        if k == "strided":
            return memoryview(bytearray(2 * n))[::2]
        return None

    def __repr__(self):
        return f"Buffer({self.kind}, {self.size})"


buffers = st.builds(Buffer, st.sampled_from(WRITABLE_KINDS), st.integers(0, 64))
sizes = st.one_of(st.integers(0, 700), st.integers(-2, 4000), st.sampled_from(EDGE_INTS), lying_ints, junk)
recv_flags = st.one_of(st.sampled_from([0, std.MSG_PEEK, std.MSG_DONTWAIT, std.MSG_PEEK | std.MSG_DONTWAIT]), junk)
send_flags = st.one_of(st.sampled_from([0, std.MSG_DONTWAIT]), junk)
timeouts = st.one_of(st.none(), floats, ints, lying_ints, junk)
levels = st.one_of(st.sampled_from([std.SOL_SOCKET, std.IPPROTO_TCP]), junk)
options = st.one_of(st.sampled_from([std.SO_REUSEADDR, std.SO_KEEPALIVE, std.SO_ERROR, std.TCP_KEEPIDLE]), junk)


WRONG_HOSTS = ["::1", "::1%1", '::1%z"\rAT+QIDEACT=1\r', "::1%z\r\nAT+CWQAP\r\n", "fe80::1%lo", "127.0.0.1%1",
               "127.0.0.1\x00", "\u00e9", "a\rb", "a b", "-x", "x" * 300, "1.2.3", "127.1", b"\xff", "no-such.test", "\x80"]


def hosts(usable: str):
    """The address a call may use (``usable``), and every way to get one wrong."""
    return st.one_of(st.just(usable), st.just(usable.encode()), st.just(bytearray(usable.encode())),
                     st.sampled_from(WRONG_HOSTS), st.none(), ints, st.binary(max_size=4), st.text(max_size=4))


def addresses(usable: Tuple[str, int]):
    host, port = usable
    good_port = st.one_of(st.just(port), st.just(LyingInt(port)))
    bad_port = st.one_of(ints.filter(lambda p: not 0 <= p <= 65535), junk)
    pair = st.tuples(hosts(host), st.one_of(good_port, bad_port))
    wrong_shape = st.one_of(st.tuples(st.just(host)), st.tuples(st.just(host), good_port, st.just(0)),
                            st.just([host, port]), st.just(f"{host}:{port}"), junk)
    return st.one_of(pair, pair, wrong_shape)


# --- calls --------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    args: tuple

    def __repr__(self):
        return f"{self.method}{self.args!r}"

    def fresh_args(self) -> tuple:
        """The arguments for one side: buffers are made anew so that each side fills its own."""
        return tuple(a.make() if isinstance(a, Buffer) else a for a in self.args)


def _call(method, *arg_strategies):
    return st.tuples(*arg_strategies).map(lambda args: Call(method, args))


def calls(peer: Tuple[str, int]):
    """Every method of the comparison, with arbitrary arguments; ``peer`` is the one address a
    call may reach (the state's own peer), so no call depends on a third party."""
    address = addresses(peer)
    return st.one_of(
        _call("send", data_args), _call("send", data_args, send_flags),
        _call("sendall", data_args), _call("sendall", data_args, send_flags),
        _call("sendto", data_args, address), _call("sendto", data_args, send_flags, address),
        _call("sendto", data_args), _call("sendto", data_args, st.just(0), address, st.just(0)),
        _call("recv", sizes), _call("recv", sizes), _call("recv", sizes, recv_flags),
        _call("recvfrom", sizes), _call("recvfrom", sizes), _call("recvfrom", sizes, recv_flags),
        _call("recv_into", buffers), _call("recv_into", buffers, sizes), _call("recv_into", buffers, sizes, recv_flags),
        _call("recvfrom_into", buffers, sizes, recv_flags),
        _call("settimeout", timeouts), _call("setblocking", junk),
        _call("connect", address), _call("connect_ex", address), _call("bind", address),
        _call("listen"), _call("listen", junk), _call("accept"),
        _call("setsockopt", levels, options, st.one_of(junk, st.just(b"\x01\x00\x00\x00"))),
        _call("getsockopt", levels, options), _call("getsockopt", levels, options, junk),
        _call("fileno"), _call("getpeername"), _call("getsockname"), _call("gettimeout"), _call("close"),
    )


def explicit_calls(peer: Tuple[str, int]):
    """Every wrong host with the peer's own port, in every call that takes an address: hypothesis
    visits each constant only once or twice, and these are the cases that matter most."""
    port = peer[1]
    for host in WRONG_HOSTS:
        yield Call("connect", ((host, port),))
        yield Call("connect_ex", ((host, LyingInt(port)),))
        yield Call("bind", ((host, port),))
        yield Call("sendto", (b"x", (host, port)))
        yield Call("sendto", (b"x", 0, (host, LyingInt(port))))


# --- outcomes -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    value: Any = None
    error: Optional[BaseException] = None
    buffer: Any = None  # what a recv_into call left in its buffer

    @property
    def errno(self):
        return getattr(self.error, "errno", None) if self.error is not None else None

    def __repr__(self):
        if self.error is not None:
            return f"{type(self.error).__name__}({self.errno}, {self.error})"
        return f"-> {self.value!r}" + (f" buffer {self.buffer!r}" if self.buffer is not None else "")


# --- what CPython is given instead -------------------------------------------------------------


@dataclass
class StandIn:
    """An argument CPython gets in place of the caller's, where atsock deliberately reads it as
    that other value (or, for a name lookup, the outcome CPython is taken to have); counted like
    the differences below."""
    name: str
    why: str
    replace: Callable[[Call], Any]
    used: int = 0


def _without_lookup(host) -> bool:
    """Whether CPython takes ``host`` (for an AF_INET socket) without asking the network's name
    service: a dotted quad, an IPv6 literal with no zone or a plain one (refused as of the wrong
    family), or "" (any address)."""
    if isinstance(host, (bytes, bytearray)):
        try:
            host = bytes(host).decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(host, str) or "\x00" in host:
        return True  # refused for its type, or its NUL, before any lookup
    try:
        host.encode("idna")
    except UnicodeError:
        return True  # a name IDNA cannot spell: "encoding of hostname failed", before any lookup
    if host == "" or re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host):
        return True
    address, _, zone = host.partition("%")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return zone in ("", "lo") or zone.isdigit()


def _c_int(value) -> bool:
    try:
        return -2 ** 31 <= operator.index(value) < 2 ** 31
    except TypeError:
        return False


def _bytes_like(value) -> bool:
    if isinstance(value, str):
        return True  # (given to CPython as UTF-8, see below)
    try:
        return memoryview(value).c_contiguous
    except TypeError:
        return False


def _address_of(call: Call):
    """The address CPython would resolve, once every argument before it parsed."""
    if call.method in ("connect", "connect_ex", "bind") and len(call.args) == 1:
        return call.args[0]
    if call.method == "sendto" and len(call.args) in (2, 3) and _bytes_like(call.args[0]) \
            and (len(call.args) == 2 or _c_int(call.args[1])):
        return call.args[-1]
    return None


def _name_lookup(call: Call) -> Optional[Outcome]:
    address = _address_of(call)
    if not isinstance(address, tuple) or len(address) != 2 or _without_lookup(address[0]) \
            or not _c_int(address[1]):  # (a port CPython refuses is refused before the lookup)
        return None
    return Outcome(error=std.gaierror(std.EAI_NONAME, NOT_ASKED))


def _str_as_utf8(call: Call) -> Optional[Call]:
    if call.method in ("send", "sendall", "sendto") and call.args and isinstance(call.args[0], str):
        return Call(call.method, (call.args[0].encode(),) + call.args[1:])
    return None


def _list_address(call: Call) -> Optional[Call]:
    if call.method in ("connect", "connect_ex", "bind") and call.args and isinstance(call.args[0], list):
        return Call(call.method, (tuple(call.args[0]),) + call.args[1:])
    if call.method == "sendto" and len(call.args) >= 2 and isinstance(call.args[-1], list):
        return Call(call.method, call.args[:-1] + (tuple(call.args[-1]),))
    return None


HUGE = 2 ** 24


def _huge_size(call: Call) -> Optional[Call]:
    size = call.args[0] if call.method in ("recv", "recvfrom") and call.args else None
    if isinstance(size, int) and not isinstance(size, bool) and HUGE <= size <= sys.maxsize:
        return Call(call.method, (65536,) + call.args[1:])
    return None


STAND_INS = [
    StandIn("name lookup", "a host CPython would look up through the network's name service is not given "
                           "to it (traffic stays on loopback): its answer is taken to be gaierror", _name_lookup),
    StandIn("str data", "MicroPython sends a str as UTF-8 (CPython wants bytes): CPython gets the UTF-8 bytes",
            _str_as_utf8),
    StandIn("list address", "MicroPython takes a list as an address (OpenMV's examples bind to [\"\", port]): "
                            "CPython gets the same values as a tuple", _list_address),
    StandIn("huge receive size", "a size from 16 MiB to sys.maxsize, which CPython allocates before it reads "
                                 "(MemoryError, or gigabytes taken): 64 KiB stand in for it, which is what it "
                                 "means to atsock (it never allocates ahead)", _huge_size),
]


def for_cpython(call: Call):
    """The call CPython is given (every stand-in that applies, in turn), or the outcome it is
    taken to have."""
    for stand_in in STAND_INS:
        replaced = stand_in.replace(call)
        if replaced is not None:
            stand_in.used += 1
            if isinstance(replaced, Outcome):
                return replaced
            call = replaced
    return call


def run(sock, call: Call) -> Outcome:
    if isinstance(sock, std.socket):
        call = for_cpython(call)
        if isinstance(call, Outcome):
            return call
    args = call.fresh_args()
    try:
        value = getattr(sock, call.method)(*args)
    except Exception as exc:  # everything a call may raise is part of the comparison
        return Outcome(error=exc)
    buffer = None
    if call.method in ("recv_into", "recvfrom_into"):
        try:
            buffer = memoryview(args[0]).tobytes()
        except TypeError:
            buffer = None
    if call.method == "gettimeout" or call.method in ("settimeout", "setblocking"):
        value = (value, sock.gettimeout())
    return Outcome(value=value, buffer=buffer)


# --- deliberate differences ---------------------------------------------------------------------


@dataclass
class Difference:
    name: str
    why: str
    applies: Callable[[Call, Outcome, Outcome, str], bool]
    used: int = 0


def _is_os_error(outcome: Outcome, *codes) -> bool:
    return isinstance(outcome.error, OSError) and (not codes or outcome.errno in codes)


def _past_argument_checks(outcome: Outcome) -> bool:
    """CPython took the arguments (it answered, or the kernel refused the call)."""
    return outcome.error is None or isinstance(outcome.error, OSError) and not isinstance(outcome.error, std.gaierror)


SUPPORTED_OPTIONS = {(std.SOL_SOCKET, std.SO_REUSEADDR), (std.SOL_SOCKET, std.SO_KEEPALIVE),
                     (std.SOL_SOCKET, std.SO_ERROR)}


def _options(call, cpy, ats, state):
    if call.method not in ("setsockopt", "getsockopt") or not _past_argument_checks(cpy):
        return False
    level, option = call.args[:2]
    if option == atsock.TCP_KEEPALIVE and level in (std.SOL_SOCKET, std.IPPROTO_TCP) and state != "udp" \
            and call.method == "setsockopt":  # QuecPython's option, which Linux does not have
        return ats.error is None or _is_os_error(ats, errno.EINVAL)
    if (level, option) in SUPPORTED_OPTIONS:  # the same option, a value the modem cannot take
        return call.method == "setsockopt" and _is_os_error(ats, errno.EINVAL)
    return _is_os_error(ats, errno.ENOPROTOOPT)


FLAGS_AT = {"send": 1, "sendall": 1, "sendto": 1, "recv": 1, "recvfrom": 1, "recv_into": 2, "recvfrom_into": 2}
KNOWN_FLAGS = std.MSG_PEEK | std.MSG_DONTWAIT


def _flags(call, cpy, ats, state):
    at = FLAGS_AT.get(call.method)
    flags = call.args[at] if at is not None and len(call.args) > at + (call.method == "sendto") else 0
    return (isinstance(flags, int) and flags & ~KNOWN_FLAGS and _past_argument_checks(cpy)
            and _is_os_error(ats, errno.EOPNOTSUPP))


def _ipv6_literal(call, cpy, ats, state):
    return isinstance(cpy.error, std.gaierror) and _is_os_error(ats, errno.EAFNOSUPPORT)


def _host_syntax(call, cpy, ats, state):
    return isinstance(cpy.error, std.gaierror) and isinstance(ats.error, ValueError)


NOT_ASKED = "not asked: CPython would look this name up on the network"


def _no_lookup_needed(call, cpy, ats, state):
    if not (isinstance(cpy.error, std.gaierror) and NOT_ASKED in str(cpy.error)):
        return False
    if isinstance(ats.error, OverflowError):
        return True  # a port out of range, refused before the name is looked up
    if state == "closed":
        return _is_os_error(ats, errno.EBADF) or call.method == "connect_ex" and ats.value == errno.EBADF
    if call.method == "bind":
        return _is_os_error(ats, errno.EADDRNOTAVAIL)
    return call.method == "sendto" and state != "udp" and (ats.error is None or _is_os_error(ats, errno.ENOTCONN))


def _no_this_host(call, cpy, ats, state):
    address = _address_of(call)
    return (call.method in ("sendto", "connect", "connect_ex") and isinstance(address, tuple) and address
            and address[0] in ("", b"", bytearray()) and (_is_os_error(ats, errno.EINVAL) or ats.value == errno.EINVAL))


def _not_connected(call, cpy, ats, state):
    return isinstance(cpy.error, BrokenPipeError) and _is_os_error(ats, errno.ENOTCONN)


def _recvfrom_stream(call, cpy, ats, state):
    return (state == "connected" and call.method in ("recvfrom", "recvfrom_into") and cpy.error is None
            and ats.error is None and cpy.value[0] == ats.value[0] and cpy.value[1] is None
            and cpy.buffer == ats.buffer)


DIFFERENCES = [
    Difference("socket options", "the modem has SO_REUSEADDR, SO_KEEPALIVE, SO_ERROR and QuecPython's "
                                 "TCP_KEEPALIVE only: other options are ENOPROTOOPT where the kernel has them",
               _options),
    Difference("flags", "MSG_PEEK and MSG_DONTWAIT only: other flags are EOPNOTSUPP", _flags),
    Difference("IPv6 literal", "an IPv6 address on an AF_INET socket is EAFNOSUPPORT (MicroPython), where "
                               "CPython's resolver says gaierror", _ipv6_literal),
    Difference("host syntax", "a host that is neither an address nor a well-formed name is ValueError before "
                              "any AT command, where CPython's resolver says gaierror", _host_syntax),
    Difference("names looked up when needed", "atsock looks a name up only for a call that needs it (connect, "
                                              "sendto on UDP) on an open socket, with a port in range: a bind is "
                                              "EADDRNOTAVAIL (the modem binds its own addresses), a closed socket "
                                              "EBADF, a stream ignores sendto's address (as Linux does); CPython "
                                              "resolves every address first", _no_lookup_needed),
    Difference("empty host", "a destination of '' (to CPython 0.0.0.0, this host) is EINVAL: the module has "
                             "no such address to reach", _no_this_host),
    Difference("not connected", "a stream socket that is not connected refuses a send with ENOTCONN "
                                "(MicroPython), where Linux says EPIPE", _not_connected),
    Difference("recvfrom on a stream", "gives the peer's address, where CPython gives None", _recvfrom_stream),
]


RECEIVING = ("recv", "recvfrom", "recv_into", "recvfrom_into")


def carried_data(call: Call, outcome: Outcome) -> bool:
    """A receive that returned bytes (so the comparison compared data, not just errors)."""
    if call.method not in RECEIVING or outcome.error is not None:
        return False
    value = outcome.value[0] if isinstance(outcome.value, tuple) else outcome.value
    return bool(value)


def same_value(call: Call, cpy: Outcome, ats: Outcome) -> bool:
    method = call.method
    if method in ("getsockname", "fileno"):
        return type(cpy.value) is type(ats.value) and (method != "fileno" or (cpy.value < 0) == (ats.value < 0))
    if method == "accept":
        return False  # nobody ever connects: neither side may accept anything
    return cpy.value == ats.value and cpy.buffer == ats.buffer


def compare(call: Call, cpy: Outcome, ats: Outcome, state: str):
    """``(None, None)`` when the outcomes agree, ``(None, difference)`` when they differ in a listed
    way (the two sockets may no longer be in the same state), else ``(what differs, None)``."""
    if cpy.error is None and ats.error is None and same_value(call, cpy, ats):
        return None, None
    if cpy.error is not None and ats.error is not None and type(cpy.error) is type(ats.error):
        return None, None
    for difference in DIFFERENCES:
        if difference.applies(call, cpy, ats, state):
            difference.used += 1
            return None, difference
    return f"{state}: {call!r}: CPython {cpy!r}, atsock {ats!r}", None
