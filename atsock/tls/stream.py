"""Host TLS over a modem socket: a :class:`~atsock.tls.session.TlsSession` driven through the
socket's public methods (``send``, ``recv``, ``settimeout``, ``_poll_mask``...).

The modem carries ciphertext and never sees a key. Blocking rules are those of atsock's plain
sockets, applied to every wait for the modem as CPython's ``SSLSocket`` does: ``settimeout(t)``
fails a wait after ``t`` seconds with ``ETIMEDOUT``; ``settimeout(0)`` makes ``recv``/``send``
raise ``EAGAIN`` and ``read``/``readinto``/``readline`` return None. Plaintext a call gathered
before it failed stays in the socket for the next call; ciphertext the modem did not take yet is
sent first by the next call. One thread may read while another writes.

``poll`` reports ``POLLIN`` only when plaintext (or the end of the stream, or an error) waits:
``poll`` itself takes in and decrypts what the modem received, so bytes that complete no record,
or only carry TLS housekeeping such as session tickets, do not make the socket readable.
"""
import errno
import ssl as _ssl
import threading
from typing import Optional

from ..constants import SOCK_STREAM
from ..errors import os_error
from ..select import POLLERR, POLLIN, POLLNVAL
from .anystream import StreamSocket, is_stream_only
from .base import OverModemSocket, SSLSocket, no_flags
from .session import TlsSession

_RECEIVE = 64 * 1024  # ciphertext taken from the modem socket at once: up to four full records
_GRACE = 5.0          # seconds a closing socket waits to pass on its close_notify


def _is_connected(sock) -> bool:
    try:
        sock.getpeername()
        return True
    except OSError as exc:
        if exc.args and exc.args[0] == errno.ENOTCONN:
            return False
        raise


class HostTLSSocket(SSLSocket):
    """TLS done on the host (CPython's ``ssl``) over an atsock socket: the module carries ciphertext only.
    Made by ``SSLContext.wrap_socket``; the blocking rules are in this module's docstring."""
    def __init__(self, sock, context, server_side: bool = False, server_hostname: Optional[str] = None,
                 do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True, session=None):
        self._tls = TlsSession(context, server_side, server_hostname, suppress_ragged_eofs, session)
        self._raw = sock
        self.context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self._plain = bytearray()       # decrypted, not read yet
        self._unsent = bytearray()      # ciphertext the modem has not taken yet
        self._ended = False             # the peer's stream ended (after _plain)
        self._failure: Optional[OSError] = None  # what poll() met; raised by the next read
        self._closed = False
        self._unwrapped = False         # unwrap() handed the modem socket back
        self._tls_lock = threading.Lock()   # the SSLObject: one call at a time, each one short
        self._reading = threading.RLock()   # one reader: raw receives, _plain
        self._writing = threading.RLock()   # one writer: raw sends, _unsent
        if do_handshake_on_connect and _is_connected(sock):
            self._handshake_on_connect()

    # --- timeouts: the modem socket's own -------------------------------------------------------
    def settimeout(self, value: Optional[float]) -> None:
        """The modem socket's time-out, which bounds every wait of a call on this socket."""
        self._raw.settimeout(value)

    def gettimeout(self) -> Optional[float]:
        """The modem socket's time-out."""
        return self._raw.gettimeout()

    def setblocking(self, flag: bool) -> None:
        """The modem socket's ``setblocking``."""
        self._raw.setblocking(flag)

    @property
    def _nonblocking(self) -> bool:
        return self._raw.gettimeout() == 0

    # --- moving ciphertext ----------------------------------------------------------------------
    def _step(self, call, *args):
        with self._tls_lock:
            return call(*args)

    def _flush(self) -> None:
        """Send what TLS produced (the caller is the writer); a non-blocking socket keeps what the
        modem would not take."""
        while True:
            with self._tls_lock:
                self._unsent += self._tls.outgoing()
            if not self._unsent:
                return
            try:
                sent = self._raw.send(self._unsent)
            except BlockingIOError:
                if self._nonblocking:
                    return
                raise
            del self._unsent[:sent]

    def _flush_quietly(self) -> None:
        """The reader's (and poll's) sending: what TLS produced on the way (handshake flights,
        alerts, a non-blocking write's tail) goes out unless a writer is busy, whose flush then
        takes it along. A connection that no longer takes bytes shows in the next receive or
        write: a read that reached the end of the stream must not fail on the alert that follows."""
        if self._writing.acquire(blocking=False):
            try:
                self._flush()
            except OSError:
                pass
            finally:
                self._writing.release()

    def _fill(self) -> None:
        """One receive from the modem into TLS (the caller is the reader)."""
        data = self._raw.recv(_RECEIVE)
        with self._tls_lock:
            self._tls.receive(data)

    def _drive(self, call):
        """Repeat ``call`` (a TlsSession step) until it has an answer, moving bytes both ways."""
        while True:
            try:
                answer = self._step(call)
            finally:
                self._flush_quietly()  # after a failure: the alert that tells the peer why
            if answer is not None:
                return answer
            self._fill()

    # --- handshake ------------------------------------------------------------------------------
    def do_handshake(self) -> None:
        """Shake hands now (a connected socket does so when wrapped, unless
        ``do_handshake_on_connect=False``); nothing once done."""
        self._check_open()
        if self._tls.handshake_done:
            return  # (a writer must not wait here for a reader that waits for the peer)
        with self._reading, self._writing:
            if not self._tls.handshake_done:
                self._drive(self._tls.handshake)

    def _handshake_on_connect(self) -> None:
        # As MicroPython: the handshake at wrap time completes even on a non-blocking socket.
        timeout = self._raw.gettimeout()
        if timeout == 0:
            self._raw.settimeout(None)
        try:
            self.do_handshake()
        finally:
            self._raw.settimeout(timeout)

    def connect(self, address) -> None:
        """Connect the modem socket (for a socket wrapped before it was connected), then shake hands."""
        self._raw.connect(address)
        if self.do_handshake_on_connect:
            self._handshake_on_connect()

    # --- receiving ------------------------------------------------------------------------------
    def _decrypt(self) -> None:
        """At least one more piece of plaintext, or the end of the stream (the caller is the reader)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        data = self._drive(self._tls.read)
        if data:
            self._plain += data
        else:
            self._ended = True

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        no_flags(flags, "recv")
        if not bufsize:
            return b""  # as CPython's: nothing asked, nothing waited for
        self.do_handshake()
        with self._reading:
            if not self._plain and not self._ended:
                self._decrypt()
            data = bytes(self._plain[:bufsize])
            del self._plain[:bufsize]
            return data

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        return self._gather(size, None)  # (None: to the end of the stream)

    def readline(self) -> Optional[bytes]:
        """Plaintext up to and including the next ``b"\n"``, or to the end of the stream; ``None`` where a
        non-blocking socket has nothing yet."""
        return self._gather(None, b"\n")

    def _gather(self, limit: Optional[int], until: Optional[bytes]) -> Optional[bytes]:
        try:
            self.do_handshake()
        except BlockingIOError:
            return None
        with self._reading:
            got = bytearray()
            try:
                while limit is None or len(got) < limit:
                    if not self._plain:
                        if self._ended:
                            break
                        try:
                            self._decrypt()
                        except BlockingIOError:
                            break  # non-blocking: what is there
                        continue
                    want = len(self._plain) if limit is None else limit - len(got)
                    if until is not None:
                        cut = self._plain.find(until)
                        if cut >= 0:
                            want = min(want, cut + len(until))
                    got += self._plain[:want]
                    del self._plain[:want]
                    if until is not None and got.endswith(until):
                        break
            except BaseException:
                self._plain[0:0] = got  # nothing gathered is lost
                raise
            if self._nonblocking and not got and not self._ended:
                return None
            return bytes(got)

    def pending(self) -> int:
        """Plaintext bytes that a read gets without waiting."""
        return len(self._plain) + self._step(self._tls.pending)

    # --- sending --------------------------------------------------------------------------------
    def send(self, data, flags: int = 0) -> int:
        """Encrypt and send up to one record (16 KiB) of ``data``; returns the plaintext count taken.
        ``EAGAIN`` while the modem has not taken the previous record (non-blocking)."""
        no_flags(flags, "send")
        view = memoryview(data)
        self.do_handshake()
        with self._writing:
            try:
                self._flush()
                if self._unsent:
                    raise os_error(errno.EAGAIN)  # the modem has not taken the last record yet
                if not view:
                    return 0
                sent = self._step(self._tls.write, view)
                self._flush()
                return sent
            except (BlockingIOError, TimeoutError):
                raise
            except OSError as exc:
                alert = self._peer_alert()
                if alert is None:
                    raise
                raise alert from exc

    def _peer_alert(self) -> Optional[OSError]:
        """Why the peer dropped the connection, when it said so in a TLS alert (a server that
        wanted a client certificate, say) that is still waiting to be read."""
        if not self._reading.acquire(blocking=False):
            return None
        try:
            if self._failure is None and self._raw._poll_mask() & (POLLIN | POLLERR):
                self._take_in()
            alert, self._failure = self._failure, None
            if isinstance(alert, _ssl.SSLError):
                return alert
            self._failure = alert
            return None
        finally:
            self._reading.release()

    def sendall(self, data, flags: int = 0) -> None:
        no_flags(flags, "sendall")
        view = memoryview(data)
        while view:
            view = view[self.send(view):]

    # --- what TLS adds --------------------------------------------------------------------------
    def getpeercert(self, binary_form: bool = False):
        if not self._tls.handshake_done:
            return None
        return self._step(self._tls.object.getpeercert, binary_form)

    def cipher(self):
        return self._step(self._tls.object.cipher)

    def version(self) -> Optional[str]:
        return self._step(self._tls.object.version)

    def selected_alpn_protocol(self) -> Optional[str]:
        """The protocol ALPN agreed on, ``None`` without one."""
        return self._step(self._tls.object.selected_alpn_protocol)

    @property
    def session(self):
        """The TLS session, to resume with ``wrap_socket(..., session=)`` on another connection."""
        return self._tls.object.session

    @property
    def session_reused(self) -> bool:
        """True where the handshake resumed the ``session`` given to ``wrap_socket``."""
        return self._tls.object.session_reused

    # --- readiness ------------------------------------------------------------------------------
    def _poll_mask(self) -> int:
        if self._closed:
            return POLLNVAL
        raw = self._raw._poll_mask()
        mask = raw & ~POLLIN
        if not self._reading.acquire(blocking=False):
            return mask  # a read is under way in another thread: what arrives is for it
        try:
            if self._unsent:  # a non-blocking write's tail: the peer may wait for it to answer
                self._flush_quietly()
            if not self._has_news() and raw & (POLLIN | POLLERR):
                self._take_in()
            if self._has_news():
                mask |= POLLIN
            return mask | (POLLERR if self._failure else 0)
        finally:
            self._reading.release()

    def _has_news(self) -> bool:
        return bool(self._plain) or self._ended or self._failure is not None

    def _take_in(self) -> None:
        """What the modem holds for this socket, through TLS, without waiting: poll's look inside.
        The receive returns at once (data, end of stream or error wait); what fails is kept for
        the next read."""
        try:
            self._fill()
            if not self._tls.handshake_done:
                done = self._step(self._tls.handshake)
                self._flush_quietly()
                if done is None:
                    return
            while True:
                data = self._step(self._tls.read)
                self._flush_quietly()
                if data is None:
                    return
                if not data:
                    self._ended = True
                    return
                self._plain += data
        except BlockingIOError:
            pass
        except OSError as exc:
            self._failure = exc
            self._flush_quietly()

    def fileno(self) -> int:
        """The modem socket's descriptor: readable when ciphertext waits, which may hold no
        plaintext yet; ``atsock.select`` knows better."""
        return self._raw.fileno()

    # --- the rest of the socket -----------------------------------------------------------------
    def _check_open(self) -> None:
        if self._unwrapped:
            raise ValueError("TLS was unwrapped from this socket: use the socket unwrap() returned")
        if self._closed:
            raise os_error(errno.EBADF, "socket is closed")

    def getpeername(self):
        """The peer's address: the modem socket's."""
        return self._raw.getpeername()

    def getsockname(self):
        """The modem socket's local address."""
        return self._raw.getsockname()

    def setsockopt(self, level: int, option: int, value, optlen=None) -> None:
        """An option of the modem socket (:meth:`atsock.socket.setsockopt`)."""
        self._raw.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int, buflen: int = 0):
        """An option of the modem socket (:meth:`atsock.socket.getsockopt`)."""
        return self._raw.getsockopt(level, option, buflen)

    def unwrap(self):
        """End TLS as CPython's ``SSLSocket.unwrap`` does (close_notify both ways, the peer's awaited
        under the socket's time-out) and return the modem socket, plain TCP from here on. Plaintext
        not read yet, and whatever the peer sent after its close_notify, are read from it, in order."""
        self._check_open()
        if not self._tls.handshake_done:
            raise ValueError("the TLS handshake has not completed: there is no TLS to unwrap")
        with self._reading, self._writing:
            self._drive(self._tls.shutdown)
            self._flush()
            self._unwrapped = True
            rest = bytes(self._plain) + self._tls.unread()
            self._plain.clear()
        self._raw._unread(rest)
        return self._raw

    def close(self) -> None:
        """Pass on TLS's close_notify (best effort, at most a few seconds), then close the modem
        socket, which also ends a read waiting in another thread. (After ``unwrap()`` it closes the
        modem socket, as CPython's does: there they are one object.)"""
        if self._closed:
            return
        self._closed = True
        if self._tls.handshake_done and not self._unwrapped and self._failure is None \
                and self._writing.acquire(timeout=_GRACE):
            try:
                self._step(self._tls.close)
                timeout = self._raw.gettimeout()
                self._raw.settimeout(_GRACE if timeout is None else min(timeout, _GRACE))
                self._flush()
            except OSError:
                pass
            finally:
                self._writing.release()
        self._raw.close()

    def __repr__(self) -> str:
        return f"<atsock.ssl host TLS {self.version() or 'handshake pending'} over {self._raw!r}>"


class TLSListener(OverModemSocket):
    """A listening modem socket wrapped by a server context: ``accept()`` returns TLS sockets."""

    def __init__(self, sock, context, do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True):
        self._raw = sock
        self.context = context
        self._options = dict(do_handshake_on_connect=do_handshake_on_connect,
                             suppress_ragged_eofs=suppress_ragged_eofs)

    def accept(self):
        """``(TLS socket, address)`` of the next client, wrapped with the listener's context."""
        conn, address = self._raw.accept()
        try:
            return tls_class(self.context)(conn, self.context, server_side=True, **self._options), address
        except BaseException:
            conn.close()
            raise

    def bind(self, address) -> None:
        """Bind the modem socket."""
        self._raw.bind(address)

    def listen(self, backlog: Optional[int] = None) -> None:
        """Listen on the modem socket (:meth:`atsock.socket.listen`)."""
        self._raw.listen(backlog)

    def settimeout(self, value: Optional[float]) -> None:
        """The modem socket's time-out, which bounds every wait of a call on this socket."""
        self._raw.settimeout(value)

    def gettimeout(self) -> Optional[float]:
        """The modem socket's time-out."""
        return self._raw.gettimeout()

    def setblocking(self, flag: bool) -> None:
        """The modem socket's ``setblocking``."""
        self._raw.setblocking(flag)

    def setsockopt(self, level: int, option: int, value, optlen=None) -> None:
        """An option of the modem socket (:meth:`atsock.socket.setsockopt`)."""
        self._raw.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int, buflen: int = 0):
        """An option of the modem socket (:meth:`atsock.socket.getsockopt`)."""
        return self._raw.getsockopt(level, option, buflen)

    def getsockname(self):
        """The modem socket's local address."""
        return self._raw.getsockname()

    def fileno(self) -> int:
        """The listening modem socket's descriptor."""
        return self._raw.fileno()

    def _poll_mask(self) -> int:
        return self._raw._poll_mask()

    def close(self) -> None:
        """Close the listening modem socket."""
        self._raw.close()

    def __enter__(self) -> "TLSListener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wrap_modem_socket(context, sock, server_side: bool = False, do_handshake_on_connect: bool = True,
                      suppress_ragged_eofs: bool = True, server_hostname: Optional[str] = None, session=None):
    """Host TLS over an atsock socket: a TLS socket, or a TLS listener for a server-side wrap of a
    socket that is not connected (its ``accept()`` wraps each connection). Any other stream object
    (MicroPython's ``wrap_socket`` takes one) is taken as connected (:mod:`.anystream`)."""
    if is_stream_only(sock):
        sock = StreamSocket(sock)
    if getattr(sock, "type", SOCK_STREAM) != SOCK_STREAM:
        raise NotImplementedError("only stream sockets are supported")
    if server_side and not _is_connected(sock):
        return TLSListener(sock, context, do_handshake_on_connect, suppress_ragged_eofs)
    return tls_class(context)(sock, context, server_side, server_hostname, do_handshake_on_connect,
                         suppress_ragged_eofs, session)


def tls_class(context):
    """The TLS socket class a context makes (``host_tls_class``: the standard ``ssl`` module's
    contexts make sockets with CPython's file surface)."""
    return getattr(context, "host_tls_class", HostTLSSocket)
