"""What every atsock TLS socket offers, whichever side does the TLS.

The host does it (:class:`atsock.tls.stream.HostTLSSocket`, CPython's ``ssl`` over any modem
socket), or the module (:class:`atsock.tls.module.ModuleTLSSocket`); both subclass
:class:`SSLSocket`, so ``isinstance(s, ssl.SSLSocket)`` and the methods below hold for both. The
stream helpers here need only ``read``, ``recv``, ``sendall`` and ``close``; subclasses keep the
modem socket they run over in ``_raw`` (:class:`OverModemSocket`).

Arguments are the plain socket's, checked as it checks them (:mod:`atsock.surface.checked`); then, as on
CPython's ``SSLSocket``, flags must be 0 and ``recvfrom``/``sendto`` are refused (ValueError).
"""
import abc
from typing import Optional

from ..surface.checked import SocketArguments
from ..surface.transfer import read_into


def no_flags(flags: int, method: str) -> None:
    """CPython's SSLSocket takes no flags: a record cannot be peeked at or sent out of band."""
    if flags:
        raise ValueError(f"non-zero flags not allowed in calls to {method}() on a TLS socket")


class OverModemSocket(SocketArguments):
    """A socket-like object over the modem socket it keeps in ``_raw``: family, type and protocol
    are that socket's."""

    @property
    def family(self) -> int:
        return self._raw.family

    @property
    def type(self) -> int:
        return self._raw.type

    @property
    def proto(self) -> int:
        return self._raw.proto


class SSLSocket(OverModemSocket, abc.ABC):
    """What every atsock TLS socket is, the host's TLS or the module's: ``isinstance(s, ssl.SSLSocket)``
    holds for both, and so do the stream methods below and CPython's refusals of flags, ``recvfrom`` and
    ``sendto``."""
    context = None                        #: the SSLContext it was made from
    server_side = False
    server_hostname: Optional[str] = None

    # --- what TLS adds to a socket ------------------------------------------------------------
    @abc.abstractmethod
    def getpeercert(self, binary_form: bool = False):
        """The peer's certificate: DER bytes with ``binary_form``, else CPython's dict (``{}`` when
        it was not verified); None before the handshake or when the peer sent none."""

    @abc.abstractmethod
    def cipher(self):
        """``(name, protocol, secret bits)`` of the negotiated cipher, None before the handshake."""

    @abc.abstractmethod
    def version(self) -> Optional[str]:
        """The negotiated protocol, e.g. ``"TLSv1.3"``."""

    # --- the usocket stream surface, from the primitives every socket has ----------------------
    @abc.abstractmethod
    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        """As atsock's plain sockets: exactly ``size`` bytes unless the stream ends, None when a
        non-blocking socket has nothing."""

    @abc.abstractmethod
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes of plaintext, ``b""`` at the end of the stream; flags must be 0."""
        ...

    @abc.abstractmethod
    def sendall(self, data, flags: int = 0) -> None:
        """Send all of ``data`` over TLS, or raise; flags must be 0."""
        ...

    @abc.abstractmethod
    def close(self) -> None:
        """End the TLS connection and close the modem socket under it."""
        ...

    @abc.abstractmethod
    def unwrap(self):
        """End TLS and return the modem socket it ran over (CPython's ``SSLSocket.unwrap``)."""

    def write(self, buf, off_or_len: Optional[int] = None, max_len: Optional[int] = None) -> int:
        """MicroPython stream ``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``."""
        view = memoryview(buf)
        if max_len is not None:
            view = view[off_or_len:off_or_len + max_len]
        elif off_or_len is not None:
            view = view[:off_or_len]
        self.sendall(view)
        return len(view)

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        """MicroPython's ``readinto(buf[, nbytes])``: :meth:`read` into ``buf``; the count, or ``None``
        where a non-blocking socket has nothing yet."""
        return read_into(self.read, buf, nbytes)

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        """As :meth:`recv`, into ``buffer`` (at most ``nbytes`` bytes, 0: its length); returns the count."""
        no_flags(flags, "recv_into")
        data = self.recv(nbytes)
        buffer[:len(data)] = data
        return len(data)

    # --- what a TLS socket refuses, as CPython's does ---------------------------------------------
    def recvfrom(self, bufsize: int, flags: int = 0):
        """``ValueError``, as on CPython's SSLSocket: the peer is :meth:`getpeername`."""
        raise ValueError("recvfrom not allowed on a TLS socket: its peer is getpeername()")

    def recvfrom_into(self, buffer, nbytes: int = 0, flags: int = 0):
        """``ValueError``, as on CPython's SSLSocket: the peer is :meth:`getpeername`."""
        raise ValueError("recvfrom_into not allowed on a TLS socket: its peer is getpeername()")

    def sendto(self, data, flags, address) -> int:
        """``ValueError``, as on CPython's SSLSocket: a TLS socket is connected to its peer."""
        raise ValueError("sendto not allowed on a TLS socket: it is connected to its peer")

    def makefile(self, mode: str = "rb", buffering: int = 0, **_ignored) -> "SSLSocket":
        """MicroPython returns the socket itself: it already has read/readline/write."""
        return self

    def __enter__(self) -> "SSLSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
