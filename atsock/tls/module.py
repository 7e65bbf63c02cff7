"""The module's own TLS: a modem socket whose connection the module opens with TLS (Quectel
AT+QSSLOPEN, ESP-AT ``"SSL"`` links), behind the same surface as host TLS.

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem)
    tls = ctx.wrap_socket(atsock.socket(), server_hostname="broker.example", module_tls=True)
    tls.connect(atsock.getaddrinfo("broker.example", 8883)[0][-1])

The socket is wrapped *before* it connects: the module makes the TCP connection and the handshake
in one command, and afterwards the AT exchanges carry plaintext. What the module checks comes from
the context (verification on or off, the server's name, the CAs — which a Quectel module gets
uploaded for the handshake and removed after it — and an atsock context's client certificate);
what it cannot take is refused with an error rather than skipped. The TLS versions and ciphers are
the firmware's. The modules do not tell the certificate they were shown nor what they negotiated:
``getpeercert()``, ``cipher()`` and ``version()`` answer None.

:class:`ModuleTLS` carries what a context cannot say (the certificates an ESP-AT 2.x module has in
its flash, the Quectel SSL context to use); ``module_tls=True`` takes its defaults.
"""
import errno
import ssl as _ssl
from dataclasses import dataclass, field
from typing import Optional, Tuple

from ..constants import SOCK_STREAM
from ..core import validate
from ..core.lifecycle import SocketState
from ..errors import os_error
from .base import SSLSocket, no_flags


PROTECTED = "password-protected"  # SSLContext.module_credentials of a key loaded with a password


@dataclass(frozen=True)
class ModuleTLS:
    """Settings of the module's own TLS that an ``SSLContext`` has no place for.

    ``ca_slot``: ESP-AT 2.x checks the server against a CA flashed into the module (its
    ``client_ca`` partition), never the context's: the index of that CA, given to say so.
    ``pki_slot``: ESP-AT 2.x's flashed client certificate and key to present, by index.
    ``ssl_context``: the Quectel SSL context (0-5) atsock configures for the connection.
    """

    ca_slot: Optional[int] = None
    pki_slot: Optional[int] = None
    ssl_context: int = 1


@dataclass(frozen=True)
class ModuleTlsRequest:
    """What a dialect needs to open a connection with the module's TLS (see ``Connection.tls``)."""

    server_hostname: Optional[str]
    verify: bool                              # check the server's certificate
    check_hostname: bool                      # ... and that it names ``server_hostname``
    ca_pems: Tuple[bytes, ...] = ()           # the context's CAs, PEM
    client_cert: Optional[bytes] = None       # the context's certificate chain, PEM
    client_key: Optional[bytes] = None        # and its key, PEM
    minimum_version: _ssl.TLSVersion = _ssl.TLSVersion.MINIMUM_SUPPORTED
    options: ModuleTLS = field(default_factory=ModuleTLS)


def module_request(context, server_hostname: Optional[str], options) -> ModuleTlsRequest:
    """The request a context and ``wrap_socket``'s arguments amount to; ValueError where CPython
    would raise it (a name check with no name)."""
    if options is True:
        options = ModuleTLS()
    if not isinstance(options, ModuleTLS):
        raise TypeError(f"module_tls is True or an ssl.ModuleTLS, not {type(options).__name__}")
    verify = context.verify_mode != _ssl.CERT_NONE
    if server_hostname is not None:
        server_hostname = server_hostname if validate.ip_literal(server_hostname) else \
            validate.hostname(server_hostname)
    if verify and context.check_hostname and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")
    credentials = getattr(context, "module_credentials", None)
    if credentials == PROTECTED:
        raise ValueError("the context's key has a password: a module can only be given a key without one")
    cert, key = credentials or (None, None)
    return ModuleTlsRequest(
        server_hostname=server_hostname, verify=verify, check_hostname=verify and context.check_hostname,
        ca_pems=tuple(_ssl.DER_cert_to_PEM_cert(der).encode("ascii")
                      for der in context.get_ca_certs(binary_form=True)) if verify else (),
        client_cert=cert, client_key=key, minimum_version=context.minimum_version, options=options)


# --- errors as CPython raises them --------------------------------------------------------------
def verification_error(detail: str) -> _ssl.SSLCertVerificationError:
    """The module refused the server's certificate (it does not say why: ``verify_code`` is
    OpenSSL's "unspecified")."""
    error = _ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {detail}")
    error.reason, error.library = "CERTIFICATE_VERIFY_FAILED", "SSL"
    error.verify_code, error.verify_message = 1, detail
    return error


def handshake_error(detail: str) -> _ssl.SSLError:
    error = _ssl.SSLError(1, f"[SSL] the module's TLS handshake failed: {detail}")
    error.reason, error.library = "HANDSHAKE_FAILURE", "SSL"
    return error


# --- the socket ---------------------------------------------------------------------------------
class ModuleTLSSocket(SSLSocket):
    """An atsock socket whose module does the TLS: every call is the plain socket's, the data
    being plaintext on the serial line."""

    def __init__(self, sock, context, request: ModuleTlsRequest, do_handshake_on_connect: bool = True):
        if getattr(sock, "type", None) != SOCK_STREAM or not hasattr(sock, "_conn"):
            raise NotImplementedError("the module's own TLS runs over an atsock stream socket")
        if sock._conn.state is not SocketState.FRESH:
            raise ValueError("the module opens the connection and its TLS in one command: wrap the socket "
                             "with module_tls before connect()")
        sock._conn.tls = request  # the socket core's dialect reads it when the socket connects
        self._raw = sock
        self.context = context
        self.server_hostname = request.server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect

    # --- connecting: the handshake is part of it -------------------------------------------------
    def connect(self, address) -> None:
        """Connect: the module opens the connection and its TLS in one command."""
        self._raw.connect(address)

    def connect_ex(self, address) -> int:
        """As :meth:`connect`, returning the errno instead of raising it."""
        return self._raw.connect_ex(address)

    def do_handshake(self) -> None:
        """Nothing to do: the module shook hands when the socket connected."""
        self._check_open()

    # --- what TLS adds: the modules do not tell it -----------------------------------------------
    def getpeercert(self, binary_form: bool = False):
        return None

    def cipher(self):
        return None

    def version(self) -> Optional[str]:
        return None

    def selected_alpn_protocol(self) -> Optional[str]:
        """``None``: the modules do not tell."""
        return None

    def unwrap(self):
        """The module's TLS ends only with its connection: no AT command ends TLS and keeps TCP."""
        self._check_open()
        raise os_error(errno.EOPNOTSUPP, "the module's own TLS cannot be ended while its connection stays open")

    # --- the plain socket's surface (flags refused, as CPython's SSLSocket refuses them) -----------
    def send(self, data, flags: int = 0) -> int:
        """The modem socket's ``send`` (flags must be 0): the module encrypts."""
        no_flags(flags, "send")
        return self._raw.send(data)

    def sendall(self, data, flags: int = 0) -> None:
        no_flags(flags, "sendall")
        self._raw.sendall(data)

    def write(self, buf, off_or_len: Optional[int] = None, max_len: Optional[int] = None) -> int:
        return self._raw.write(buf, off_or_len, max_len)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        no_flags(flags, "recv")
        return self._raw.recv(bufsize)

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        return self._raw.read(size)

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        return self._raw.readinto(buf, nbytes)

    def readline(self) -> Optional[bytes]:
        """The modem socket's ``readline``: the module decrypts."""
        return self._raw.readline()

    def pending(self) -> int:
        """Plaintext bytes that a read gets without waiting (those the module still holds not counted)."""
        return self._raw._conn.buffered

    def settimeout(self, value: Optional[float]) -> None:
        """The modem socket's time-out, which bounds every wait of a call on this socket."""
        self._raw.settimeout(value)

    def gettimeout(self) -> Optional[float]:
        """The modem socket's time-out."""
        return self._raw.gettimeout()

    def setblocking(self, flag: bool) -> None:
        """The modem socket's ``setblocking``."""
        self._raw.setblocking(flag)

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

    def fileno(self) -> int:
        """The modem socket's descriptor."""
        return self._raw.fileno()

    def _poll_mask(self) -> int:
        return self._raw._poll_mask()

    def _check_open(self) -> None:
        if self._raw._conn.state is SocketState.CLOSED:
            raise os_error(errno.EBADF, "socket is closed")

    def close(self) -> None:
        """The module ends its TLS session when it closes the connection."""
        self._raw.close()

    def __repr__(self) -> str:
        return f"<atsock.ssl module TLS over {self._raw!r}>"
