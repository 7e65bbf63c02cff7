"""TLS for the asyncio layer, done on the host: a :class:`~atsock.tls.session.TlsSession` between
the caller's protocol (plaintext) and a modem transport (ciphertext).

The protocol's ``connection_made`` comes once the handshake is complete, as with CPython's
``ssl=``; the opener waits for it (:meth:`TlsTransport.handshake`). Closing sends TLS's
close_notify before the connection closes; the peer's close_notify, or an end without one, is the
end of the stream (``suppress_ragged_eofs``, CPython's default).
"""
import asyncio
import logging
import ssl as _ssl
from typing import Optional

from ..tls.session import TlsSession
from .transport import StreamTransport, as_bytes

log = logging.getLogger("atsock.asyncio")


class TlsTransport(asyncio.Transport):
    def __init__(self, loop: asyncio.AbstractEventLoop, lower: StreamTransport, session: TlsSession,
                 context: _ssl.SSLContext, protocol: asyncio.BaseProtocol):
        super().__init__({"sslcontext": context, "ssl_object": session.object})
        self._loop = loop
        self._lower = lower
        self._session = session
        self._protocol = protocol
        self._handshake = loop.create_future()
        self._plain = bytearray()        # written, not encrypted yet (handshake pending)
        self._made = False               # the protocol's connection_made was called
        self._reading_paused = False
        self._closing = False
        self._error: Optional[BaseException] = None
        lower.set_protocol(_Ciphertext(self))
        lower.start()

    async def handshake(self, timeout: Optional[float]) -> None:
        """Wait for the handshake; a failure or ``timeout`` seconds without one abort the connection."""
        try:
            await asyncio.wait_for(asyncio.shield(self._handshake), timeout)
        except asyncio.TimeoutError:
            self._give_up_handshake()
            raise ConnectionAbortedError(f"TLS handshake is taking longer than {timeout} seconds: "
                                         "the connection is aborted") from None
        except BaseException:
            self._give_up_handshake()
            raise

    def _give_up_handshake(self) -> None:
        """Nobody waits for the handshake any more: its future is settled now, so that the abort's
        connection loss does not leave an exception on it that nobody retrieves."""
        self._handshake.cancel()
        self.abort()

    # --- the TLS engine, stepped whenever ciphertext arrives or the caller acts -----------------
    def _step(self) -> None:
        session = self._session
        try:
            if not session.handshake_done:
                done = session.handshake()
                self._flush()
                if done is None:
                    return
                self._made = True
                self._protocol.connection_made(self)
                if not self._handshake.done():
                    self._handshake.set_result(None)
            self._encrypt()
            while not self._reading_paused:
                data = session.read()
                if data is None:
                    break
                if not data:
                    self._ended()
                    break
                self._protocol.data_received(data)
            self._flush()
        except _ssl.SSLError as exc:
            self._fail(exc)

    def _flush(self) -> None:
        out = self._session.outgoing()
        if out:
            self._lower.write(out)

    def _encrypt(self) -> None:
        view = memoryview(self._plain)
        taken = 0
        while taken < len(view):
            count = self._session.write(view[taken:])
            if count is None:  # TLS wants to read first (renegotiation): on the next step
                break
            taken += count
        view.release()
        del self._plain[:taken]
        self._flush()

    def _ended(self) -> None:
        if self._closing:
            return
        if not self._protocol.eof_received():
            self.close()

    def _fail(self, error: BaseException) -> None:
        log.debug("TLS over %r failed: %s", self._lower, error)
        self._error = error
        if not self._handshake.done():
            self._handshake.set_exception(error)
        self._lower.abort()

    def _lost(self, error: Optional[BaseException]) -> None:
        error = self._error or error
        if not self._handshake.done():
            self._handshake.set_exception(error or ConnectionResetError("the connection closed during "
                                                                        "the TLS handshake"))
        if self._made:
            self._made = False
            self._protocol.connection_lost(error)

    # --- the transport the protocol sees --------------------------------------------------------
    def write(self, data) -> None:
        data = as_bytes(data)
        if not data or self._closing or self._lower.is_closing():
            return
        self._plain += data
        if self._session.handshake_done:
            try:
                self._encrypt()
            except _ssl.SSLError as exc:
                self._fail(exc)

    def writelines(self, list_of_data) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return len(self._plain) + self._lower.get_write_buffer_size()

    def get_write_buffer_limits(self):
        return self._lower.get_write_buffer_limits()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self._lower.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self._reading_paused = True
        self._lower.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            self._lower.resume_reading()
            self._loop.call_soon(self._step)  # plaintext TLS already holds

    def is_reading(self) -> bool:
        return not self._reading_paused and self._lower.is_reading()

    def is_closing(self) -> bool:
        return self._closing or self._lower.is_closing()

    def close(self) -> None:
        """Send close_notify after what is written, then close the connection."""
        if self._closing:
            return
        self._closing = True
        if self._session.handshake_done:
            try:
                self._encrypt()
                self._session.close()
                self._flush()
            except _ssl.SSLError:
                pass
        self._lower.close()

    def abort(self) -> None:
        self._closing = True
        self._lower.abort()

    def get_extra_info(self, name, default=None):
        if name == "peercert":
            return self._session.object.getpeercert() if self._session.handshake_done else default
        if name == "cipher":
            return self._session.object.cipher() if self._session.handshake_done else default
        if name == "compression":
            return self._session.object.compression()
        value = super().get_extra_info(name, None)
        return self._lower.get_extra_info(name, default) if value is None else value

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def __repr__(self) -> str:
        return f"<atsock TlsTransport over {self._lower!r}>"


class _Ciphertext(asyncio.Protocol):
    """The modem transport's protocol under a TLS transport."""

    def __init__(self, tls: TlsTransport):
        self._tls = tls
        self._paused = False  # the caller's protocol was told to pause writing

    def connection_made(self, transport) -> None:
        self._tls._step()  # a client speaks first

    def data_received(self, data: bytes) -> None:
        self._tls._session.receive(data)
        self._tls._step()

    def eof_received(self) -> bool:
        self._tls._session.receive(b"")
        self._tls._step()
        return True  # the TLS transport closes, after its own close_notify

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._tls._lost(exc)

    def pause_writing(self) -> None:
        if self._tls._made and not self._paused:
            self._paused = True
            self._tls._protocol.pause_writing()

    def resume_writing(self) -> None:
        if self._paused:
            self._paused = False
            if self._tls._made:
                self._tls._protocol.resume_writing()
