"""``import socket`` served by the modem: every public name of CPython's module, for ordinary code.

What opens, listens, sends or looks up goes through the modem: :class:`socket` (atsock's socket
with CPython's object surface), ``create_connection``, ``create_server``, ``getaddrinfo``,
``gethostbyname``, ``gethostbyname_ex``. What only computes or reads this machine's own tables is
CPython's (the constants and enums, the exception classes, ``htons``, ``inet_aton``,
``getservbyname``, ``gethostname``, ``socketpair``...); AF_UNIX sockets never leave the machine, so
``socket(AF_UNIX)`` is the host's. :data:`LOCAL` lists those, :data:`MODEM` the others, and the test
suite checks that together they cover CPython's module.

What a module cannot do fails when called, with the reason: a reverse lookup (``gethostbyaddr``
raises ``herror``; ``getnameinfo`` answers numerically, and ``NI_NAMEREQD`` raises ``gaierror``),
adopting a kernel descriptor (``socket(fileno=...)``, ``fromfd``), ``detach()``, half-closing a
connection (``shutdown(SHUT_RD)``/``SHUT_WR``), a dual-stack listener, ``SO_REUSEPORT``.
"""
import errno
import socket as _std
from socket import *  # noqa: F401,F403 - CPython's names first; the modem's replace some below
from socket import (AddressInfo, EAGAIN, EBADF, EWOULDBLOCK, IntEnum, IntFlag, MsgFlag,  # noqa: F401
                    SocketIO, _GLOBAL_DEFAULT_TIMEOUT)
from typing import Optional

from ..errors import os_error
from ..surface import arguments, usock
from ..surface.addrinfo import resolve_addrinfo
from ..surface.current import current_modem
from .files import FileSurface

__all__ = list(_std.__all__)

_default = {"timeout": None}
_FLAG_BITS = getattr(_std, "SOCK_NONBLOCK", 0) | getattr(_std, "SOCK_CLOEXEC", 0)


def _enum(kind, value):
    try:
        return kind(value)
    except ValueError:
        return value


class socket(FileSurface, usock.socket):
    """CPython's socket object over a modem connection: ``socket(family=AF_INET, type=SOCK_STREAM,
    proto=0)``, with ``makefile``, ``sendfile``, ``dup``, ``shutdown(SHUT_RDWR)``, ``getblocking``,
    ``recvmsg`` and the default time-out of :func:`setdefaulttimeout` besides atsock's methods."""

    def __new__(cls, family=-1, type=-1, proto=-1, fileno=None, **_private):
        if family == _std.AF_UNIX:  # local IPC: the host's, it never reaches a network
            return _std.socket(family, type, proto, fileno)
        return super().__new__(cls)

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None, *, modem=None, _conn=None):
        if fileno is not None:
            raise os_error(errno.EOPNOTSUPP, "a modem connection has no kernel descriptor: socket(fileno=...) "
                                             "cannot adopt one")
        family = AF_INET if family == -1 else family
        kind = SOCK_STREAM if type == -1 else arguments.c_int(type)
        super().__init__(family, kind & ~_FLAG_BITS, 0 if proto == -1 else proto, modem=modem, _conn=_conn)
        self.family = _enum(AddressFamily, self.family)
        self.type = _enum(SocketKind, self.type)
        self._timeout = 0.0 if kind & getattr(_std, "SOCK_NONBLOCK", 0) else _default["timeout"]
        self._sharers = [1]  # objects on this connection: dup() adds one; the last close() closes it
        self._own_closed = False

    # --- CPython's object surface ---------------------------------------------------------------
    @property
    def timeout(self) -> Optional[float]:
        """The time-out, as ``gettimeout()``: ``None``, ``0.0`` or seconds."""
        return self._timeout

    def getblocking(self) -> bool:
        """False once ``settimeout(0)`` or ``setblocking(False)``, else True."""
        return self._timeout != 0

    def dup(self) -> "socket":
        """Another object on the same connection (as a duplicated descriptor): the connection
        closes when the last of them does."""
        self._check_open()
        twin = type(self)(self.family, self.type, self.proto, modem=self._modem, _conn=self._conn)
        twin._timeout, twin._local_port, twin._peer, twin._options = (self._timeout, self._local_port, self._peer,
                                                                      self._options)
        twin._sharers = self._sharers
        self._sharers[0] += 1
        return twin

    def detach(self):
        """``EOPNOTSUPP``: there is no kernel descriptor to hand over (``dup()`` gives a second object on
        the connection)."""
        raise os_error(errno.EOPNOTSUPP, "a modem connection has no kernel descriptor to hand over: use dup() "
                                         "for a second object on it")

    def shutdown(self, how: int) -> None:
        """``SHUT_RDWR`` ends the connection at the module, as ``close()`` would, leaving this object
        closed; the modules cannot end one direction alone (``AT+QICLOSE``/``AT+CIPCLOSE`` end both)."""
        how = arguments.c_int(how)
        self._check_open()
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise os_error(errno.EINVAL)
        self.getpeername()  # ENOTCONN unless connected
        if how != SHUT_RDWR:
            raise os_error(errno.EOPNOTSUPP, "the module cannot close one direction of a connection: "
                                             "shutdown(SHUT_RDWR) or close() end both")
        usock.socket.close(self)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0):
        """``(data, [], 0, address)``: the modem carries no ancillary data."""
        data, address = self.recvfrom(bufsize, flags)
        return data, [], 0, address

    def recvmsg_into(self, buffers, ancbufsize: int = 0, flags: int = 0):
        """``(count, [], 0, address)``: one :meth:`recvfrom` scattered over ``buffers``; the modem carries
        no ancillary data."""
        views = [memoryview(buffer).cast("B") for buffer in buffers]
        data, address = self.recvfrom(sum(len(view) for view in views), flags)
        taken = 0
        for view in views:
            piece = data[taken:taken + len(view)]
            view[:len(piece)] = piece
            taken += len(piece)
        return len(data), [], 0, address

    def sendmsg_afalg(self, *args, **kwargs):
        """``EOPNOTSUPP``: for the kernel's AF_ALG sockets only."""
        raise os_error(errno.EOPNOTSUPP, "sendmsg_afalg is for the kernel's AF_ALG sockets")

    def get_inheritable(self) -> bool:
        """False: a modem connection is this process's alone."""
        return False

    def set_inheritable(self, inheritable: bool) -> None:
        """``set_inheritable(True)`` is ``EOPNOTSUPP``: a child process cannot inherit a modem connection."""
        if inheritable:
            raise os_error(errno.EOPNOTSUPP, "a child process cannot inherit a modem connection")

    # --- one connection, several objects (dup) ---------------------------------------------------
    def _check_open(self) -> None:
        if self._own_closed:
            raise os_error(errno.EBADF, "socket is closed")
        super()._check_open()

    def fileno(self) -> int:
        """The socket's readiness descriptor (see :meth:`atsock.surface.usock.socket.fileno`): for ``selectors``
        and event loops, not for ``os.read``; -1 once closed."""
        return -1 if self._own_closed else super().fileno()

    def close(self) -> None:
        """Close this object; the connection closes with the last object on it (:meth:`dup`) once no
        ``makefile()`` file uses it, as in CPython."""
        self._close_wanted = True
        if self._io_refs > 0 or self._own_closed:
            return
        self._own_closed = True
        self._sharers[0] -= 1
        if self._sharers[0] <= 0:
            usock.socket.close(self)

    def __del__(self) -> None:
        if not getattr(self, "_own_closed", True):
            self._sharers[0] -= 1
            if self._sharers[0] <= 0:
                super().__del__()

    def __repr__(self) -> str:
        return super().__repr__().replace("<atsock.socket", "<atsock standard socket", 1)


SocketType = socket


# --- module functions through the modem ---------------------------------------------------------
def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """CPython's signature and enums; names resolved by the modem (one entry per address, of the
    type asked for, SOCK_STREAM when none is)."""
    return [(_enum(AddressFamily, af), _enum(SocketKind, kind), protocol, canonical, address)
            for af, kind, protocol, canonical, address
            in resolve_addrinfo(current_modem, host, port, family, type, proto, flags)]


def gethostbyname(hostname: str) -> str:
    """The first IPv4 address the modem's DNS gives for ``hostname``."""
    return getaddrinfo(hostname, None, AF_INET)[0][4][0]


def gethostbyname_ex(hostname: str):
    """``(hostname, [], addresses)``: the IPv4 addresses the modem's DNS gives; no aliases (the modules'
    lookups report none)."""
    addresses = []
    for entry in getaddrinfo(hostname, None, AF_INET):
        if entry[4][0] not in addresses:
            addresses.append(entry[4][0])
    return hostname, [], addresses


def gethostbyaddr(ip_address: str):
    """``herror``: the modules have no reverse lookup."""
    raise herror(1, f"Unknown host: the modem has no reverse lookup for {ip_address!r}")


def getnameinfo(sockaddr, flags: int):
    """Numeric host (the modem has no reverse lookup), the service from this machine's table."""
    if flags & NI_NAMEREQD:
        raise gaierror(EAI_NONAME, "Name or service not known: the modem has no reverse lookup")
    return _std.getnameinfo(sockaddr, flags | NI_NUMERICHOST)


def getfqdn(name: str = "") -> str:
    """``name`` (or this machine's name): CPython's answer when no reverse lookup finds more."""
    name = name.strip()
    return gethostname() if not name or name in ("0.0.0.0", "::") else name


def getdefaulttimeout() -> Optional[float]:
    """The time-out :func:`setdefaulttimeout` set for new sockets."""
    return _default["timeout"]


def setdefaulttimeout(timeout: Optional[float]) -> None:
    """The time-out of sockets made from now on (this module's; the host's sockets keep theirs)."""
    _default["timeout"] = arguments.timeout(timeout)


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, *, all_errors=False):
    """Connect to ``(host, port)`` through the modem, trying each of its addresses in turn; the last
    failure is raised (all of them, as an ExceptionGroup, with ``all_errors``)."""
    host, port = address
    failures = []
    for family, kind, proto, _, sockaddr in getaddrinfo(host, port, 0, SOCK_STREAM):
        sock = None
        try:
            sock = socket(family, kind, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            failures.append(exc)
            if sock is not None:
                sock.close()
    if all_errors:
        raise ExceptionGroup("create_connection failed", failures)  # noqa: F821 - 3.11+, as the argument
    raise failures[-1]


def has_dualstack_ipv6() -> bool:
    """False: a module's listener takes one family."""
    return False


def create_server(address, *, family=AF_INET, backlog=None, reuse_port=False, dualstack_ipv6=False):
    """A listening socket on the modem at ``address`` (the modem's own address, or "" for any)."""
    if reuse_port:
        raise ValueError("SO_REUSEPORT is not supported by the modem")
    if dualstack_ipv6:
        raise ValueError("dualstack_ipv6 not supported on this platform: a module's listener takes one family")
    sock = socket(family, SOCK_STREAM)
    try:
        sock.bind(address)
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise


def fromfd(fd, family, type, proto=0):
    """The host's for ``AF_UNIX``; else ``EOPNOTSUPP``: a kernel descriptor cannot become a modem
    connection."""
    if family == AF_UNIX:
        return _std.fromfd(fd, family, type, proto)
    raise os_error(errno.EOPNOTSUPP, "a kernel descriptor cannot become a modem connection")


#: names that go through the modem, or refuse what a module cannot do
MODEM = frozenset({"socket", "SocketType", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
                   "getnameinfo", "getfqdn", "getdefaulttimeout", "setdefaulttimeout", "create_connection",
                   "has_dualstack_ipv6", "create_server", "fromfd"})
#: callables that stay CPython's: they compute, or read this machine's own tables, or are AF_UNIX
LOCAL = frozenset({"CMSG_LEN", "CMSG_SPACE", "close", "dup", "gethostname", "sethostname", "getprotobyname",
                   "getservbyname", "getservbyport", "htonl", "htons", "ntohl", "ntohs", "inet_aton", "inet_ntoa",
                   "inet_pton", "inet_ntop", "if_nameindex", "if_nametoindex", "if_indextoname", "socketpair",
                   "send_fds", "recv_fds", "fromshare", "SocketIO"})
