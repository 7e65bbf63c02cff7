"""What every atsock TLS socket offers, whichever side does the TLS.

The host does it today (:class:`atsock.tls.stream.HostTLSSocket`, CPython's ``ssl`` over any modem
socket); a module that speaks TLS itself can offer the same surface by subclassing
:class:`SSLSocket` (or registering with it), so ``isinstance(s, ssl.SSLSocket)`` and the methods
below hold for both. The stream helpers here need only ``read``, ``sendall`` and ``close``.
"""
import abc
from typing import Optional


class SSLSocket(abc.ABC):
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
    def sendall(self, data) -> None:
        ...

    @abc.abstractmethod
    def close(self) -> None:
        ...

    def write(self, buf, off_or_len: Optional[int] = None, max_len: Optional[int] = None) -> int:
        """MicroPython stream ``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``."""
        view = memoryview(buf.encode() if isinstance(buf, str) else buf).cast("B")
        if max_len is not None:
            view = view[off_or_len:off_or_len + max_len]
        elif off_or_len is not None:
            view = view[:off_or_len]
        self.sendall(view)
        return len(view)

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        view = memoryview(buf).cast("B")
        limit = len(view) if nbytes is None else min(nbytes, len(view))
        data = self.read(limit)
        if data is None:
            return None
        view[:len(data)] = data
        return len(data)

    def makefile(self, mode: str = "rb", buffering: int = 0, **_ignored) -> "SSLSocket":
        """MicroPython returns the socket itself: it already has read/readline/write."""
        return self

    def __enter__(self) -> "SSLSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
