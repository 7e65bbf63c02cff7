"""``SSLContext``: CPython's, with MicroPython's ways of giving it certificates and ciphers, and
a ``wrap_socket`` that takes modem sockets.

It is a real ``ssl.SSLContext`` subclass, so every CPython setting (``minimum_version``,
``set_alpn_protocols``, ``load_default_certs``...) is there and it can be handed to anything
that wants a CPython context (an asyncio transport, :class:`~atsock.tls.session.TlsSession`).
Client contexts verify by default as CPython's do: ``PROTOCOL_TLS_CLIENT`` means
``CERT_REQUIRED`` and ``check_hostname``. Where MicroPython differs:

* ``load_cert_chain`` and ``load_verify_locations`` also take the certificate and key
  themselves as bytes, PEM or DER (MicroPython's extension). Keys and certificates given as bytes
  reach OpenSSL through an in-memory file on Linux, not through the disk.
* ``verify_mode = CERT_NONE`` on a client also turns ``check_hostname`` off (CPython refuses the
  assignment; MicroPython code makes it to skip verification on purpose).
* ``load_cert_chain`` keeps the certificate chain and key (PEM) as ``module_credentials``: a
  module that does the TLS itself (``wrap_socket(..., module_tls=True)``) has them uploaded. A key
  with a password is not kept, and module TLS with it is refused.
* ``set_ciphers`` takes MicroPython's list of IANA/mbedtls names as well as OpenSSL's string;
  ``get_ciphers`` answers names, as MicroPython does. TLS 1.3 suites are always on: OpenSSL picks
  them apart from the cipher list.
"""
import base64
import os
import socket as _std_socket
import ssl as _ssl
import tempfile
from contextlib import contextmanager
from typing import Optional

from .ciphers import openssl_names
from .module import PROTECTED, ModuleTLSSocket, module_request
from .stream import wrap_modem_socket

_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")  # PKCS#8, PKCS#1, SEC1 in DER


def _is_data(value) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview))


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def _pem(der: bytes, label: str) -> bytes:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode("ascii")


def _cert_pem(data: bytes) -> bytes:
    return data if _is_pem(data) else _pem(data, "CERTIFICATE")


def _pem_blocks(data: bytes, label_part: bytes) -> bytes:
    """The PEM blocks of ``data`` whose label contains ``label_part``, in order."""
    found = []
    for block in data.split(b"-----BEGIN ")[1:]:
        label = block.split(b"-----", 1)[0]
        end = block.find(b"-----END ")
        if label_part in label and end >= 0:
            found.append(b"-----BEGIN " + block[:block.index(b"-----", end + 9) + 5] + b"\n")
    return b"".join(found)


def _contents(value) -> bytes:
    if value is None:
        return b""
    if _is_data(value):
        return bytes(value)
    with open(value, "rb") as file:
        return file.read()


def _der_file(value):
    """A certificate or key named by path, as its bytes when the file is DER: OpenSSL opens PEM
    files only, and MicroPython's own TLS tests load ``.der`` files."""
    if value is None or _is_data(value):
        return value
    data = _contents(value)
    return value if _is_pem(data) else data


def _key_pems(data: bytes):
    """The PEM forms a key may have: DER does not say which kind of key it holds."""
    return [data] if _is_pem(data) else [_pem(data, label) for label in _KEY_LABELS]


@contextmanager
def _as_path(value):
    """A path OpenSSL can open: ``value`` itself, or for PEM bytes an anonymous in-memory file
    where the system has them (Linux), else a file in a private temporary directory, removed at once."""
    if not isinstance(value, bytes):
        yield value
        return
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("atsock-tls", os.MFD_CLOEXEC)
        try:
            with open(fd, "wb", closefd=False) as memory:
                memory.write(value)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="atsock-tls-") as private:  # mode 0700
        path = os.path.join(private, "pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(value)
        yield path


class SSLContext(_ssl.SSLContext):
    """CPython's ``SSLContext`` with MicroPython's ways of loading certificates and ciphers (this module's
    docstring lists them); ``wrap_socket`` takes modem sockets, and with ``module_tls`` has the module
    do the TLS."""
    module_credentials = None  # (certificate chain, key) as PEM, for the module's own TLS

    def __new__(cls, protocol=_ssl.PROTOCOL_TLS_CLIENT, *args, **kwargs):
        return super().__new__(cls, protocol, *args, **kwargs)

    @property
    def verify_mode(self):
        """CPython's; setting ``CERT_NONE`` also turns ``check_hostname`` off, as MicroPython code expects."""
        return super().verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        if value == _ssl.CERT_NONE and self.check_hostname:
            self.check_hostname = False
        super(SSLContext, SSLContext).verify_mode.__set__(self, value)

    # --- certificates ---------------------------------------------------------------------------
    def load_cert_chain(self, certfile, keyfile=None, password=None) -> None:
        """``certfile``/``keyfile``: paths of PEM or DER files, or the certificate (chain) and key as
        PEM or DER bytes."""
        certfile, keyfile = _der_file(certfile), _der_file(keyfile)
        if not (_is_data(certfile) or _is_data(keyfile)):
            super().load_cert_chain(certfile, keyfile, password)
            self._keep_credentials(certfile, keyfile, password)
            return
        cert = _cert_pem(bytes(certfile)) if _is_data(certfile) else certfile
        if keyfile is None:
            keys = [cert]  # the key is in the certificate's PEM
        elif _is_data(keyfile):
            keys = _key_pems(bytes(keyfile))
        else:
            keys = [keyfile]
        failure = None
        for key in keys:
            try:
                with _as_path(cert) as cert_path, _as_path(key) as key_path:
                    super().load_cert_chain(cert_path, key_path, password)
            except _ssl.SSLError as exc:
                failure = exc
                continue
            self._keep_credentials(cert, key, password)
            return
        raise failure

    def _keep_credentials(self, cert, key, password) -> None:
        """What was just loaded, as PEM, for a module to be given (never a password-protected key)."""
        if password is not None:
            self.module_credentials = PROTECTED
            return
        material = _contents(cert) + b"\n" + _contents(key)
        chain, private = _pem_blocks(material, b"CERTIFICATE"), _pem_blocks(material, b"PRIVATE KEY")
        self.module_credentials = (chain, private) if chain and private else None

    def load_verify_locations(self, cafile=None, capath=None, cadata=None) -> None:
        """``cafile``: a path; ``cadata``: PEM text (str or bytes) or DER bytes. As MicroPython's
        ``tls`` module, certificate bytes given as the first argument are taken as ``cadata``; a
        ``cafile`` in DER is read as such."""
        cafile = _der_file(cafile)
        if _is_data(cafile) and (_is_pem(bytes(cafile)) or bytes(cafile[:1]) == b"\x30"):
            cafile, cadata = None, cafile
        if _is_data(cadata):
            cadata = bytes(cadata)
            if _is_pem(cadata):
                cadata = cadata.decode("ascii")
        super().load_verify_locations(cafile, capath, cadata)

    # --- ciphers --------------------------------------------------------------------------------
    def set_ciphers(self, ciphers) -> None:
        """An OpenSSL cipher string, or MicroPython's list of suite names (either spelling)."""
        if isinstance(ciphers, str):
            super().set_ciphers(ciphers)
            return
        tls12, _tls13 = openssl_names(ciphers)
        if tls12:
            super().set_ciphers(":".join(tls12))

    def get_ciphers(self):
        """The enabled suites' names, as MicroPython answers (CPython answers dicts)."""
        return [suite["name"] for suite in super().get_ciphers()]

    # --- wrapping -------------------------------------------------------------------------------
    def wrap_socket(self, sock, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: Optional[str] = None, session=None,
                    *, module_tls=False):
        """TLS over ``sock``: a modem socket gets host TLS over its AT socket; an OS socket gets
        CPython's own ``SSLSocket``. With ``module_tls`` (True, or an :class:`~atsock.tls.module.ModuleTLS`)
        the module does the TLS itself: wrap the modem socket before it connects. A
        ``PROTOCOL_TLS_SERVER`` context makes server sockets, as MicroPython's do (CPython's cannot
        make a client with one)."""
        server_side = server_side or self.protocol == _ssl.PROTOCOL_TLS_SERVER
        if module_tls:
            if server_side or session is not None:
                raise NotImplementedError("the module's own TLS makes client connections, without sessions")
            request = module_request(self, server_hostname, module_tls)
            return ModuleTLSSocket(sock, self, request, do_handshake_on_connect)
        if isinstance(sock, _std_socket.socket):
            return super().wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                       server_hostname, session)
        return wrap_modem_socket(self, sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                 server_hostname, session)

