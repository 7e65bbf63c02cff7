"""TLS without I/O: CPython's ``SSLObject`` between two memory buffers.

The caller moves the bytes: what arrives from the peer goes in with :meth:`TlsSession.receive`,
what TLS wants sent comes out of :meth:`TlsSession.outgoing`. Every step answers ``None`` when it
cannot go on before more bytes arrive. The blocking TLS socket (:mod:`atsock.tls.stream`) drives
one over an atsock socket; an asyncio stream can drive the same object over its reader and writer:

    session = TlsSession(context, server_hostname="broker.example")
    while session.handshake() is None:
        writer.write(session.outgoing())
        session.receive(await reader.read(16384))   # b"" at end of stream
    writer.write(session.outgoing())
"""
import ssl as _ssl
from typing import Optional

#: the most plaintext one record carries; reads and writes go by this size
RECORD = 16 * 1024


class TlsSession:
    """One TLS connection between two memory buffers (this module's docstring shows the loop that drives
    it); ``object`` is CPython's ``SSLObject``."""
    def __init__(self, context: _ssl.SSLContext, server_side: bool = False,
                 server_hostname: Optional[str] = None, suppress_ragged_eofs: bool = True, session=None):
        if context.check_hostname and not server_side and not server_hostname:
            # CPython's SSLSocket refuses this; its SSLObject would verify the chain and no name
            raise ValueError("check_hostname requires server_hostname")
        self._incoming = _ssl.MemoryBIO()
        self._outgoing = _ssl.MemoryBIO()
        self.object = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side,
                                       server_hostname=server_hostname, session=session)
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.handshake_done = False

    # --- bytes in and out -----------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Hand over bytes from the peer; ``b""`` says the peer's stream ended."""
        if data:
            self._incoming.write(data)
        elif not self._incoming.eof:
            self._incoming.write_eof()

    def outgoing(self) -> bytes:
        """Everything TLS has produced for the peer since the last call."""
        return self._outgoing.read()

    @property
    def peer_ended(self) -> bool:
        """True once :meth:`receive` was told the peer's stream ended."""
        return self._incoming.eof

    # --- TLS steps: None means "feed me more" ---------------------------------------------------
    def handshake(self) -> Optional[bool]:
        """True once the handshake is complete; failures raise ``ssl.SSLError`` subclasses."""
        if not self.handshake_done:
            try:
                self.object.do_handshake()
            except _ssl.SSLWantReadError:
                return None
            self.handshake_done = True
        return True

    def read(self, size: int = RECORD) -> Optional[bytes]:
        """Up to ``size`` bytes of plaintext; ``b""`` at the end of the peer's stream.

        A peer that drops the connection without TLS's close_notify ends the stream as well while
        ``suppress_ragged_eofs`` is on (CPython's default); otherwise that raises ``SSLEOFError``."""
        try:
            return self.object.read(size)
        except _ssl.SSLWantReadError:
            return None
        except _ssl.SSLZeroReturnError:
            return b""
        except _ssl.SSLEOFError:
            if self.suppress_ragged_eofs and self.handshake_done:
                return b""
            raise

    def write(self, data) -> Optional[int]:
        """Encrypt up to one record of ``data``; the result waits in :meth:`outgoing`."""
        try:
            return self.object.write(memoryview(data)[:RECORD])
        except _ssl.SSLWantReadError:
            return None

    def shutdown(self) -> Optional[bool]:
        """Queue close_notify; True once the peer's close_notify is in (TLS is over both ways)."""
        try:
            self.object.unwrap()
        except _ssl.SSLWantReadError:
            return None
        return True

    def unread(self) -> bytes:
        """What came from the peer and TLS has not taken (after a shutdown: the bytes that follow it)."""
        return self._incoming.read()

    def close(self) -> None:
        """Queue TLS's close_notify for the peer (not waiting for the peer's own)."""
        try:
            self.object.unwrap()
        except (_ssl.SSLWantReadError, _ssl.SSLError):
            pass

    def pending(self) -> int:
        """Plaintext bytes decrypted and not read yet."""
        return self.object.pending()
