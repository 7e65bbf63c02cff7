"""MicroPython's ``ssl``/``tls`` over modem sockets, with CPython's ``ssl`` doing the TLS on the host.

    import atsock
    from atsock import ssl
    s = atsock.socket(); s.connect(atsock.getaddrinfo("broker.example", 8883)[0][-1])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)      # verifies: CERT_REQUIRED + check_hostname
    ctx.load_verify_locations(cafile="ca.pem")         # or cadata= PEM text / DER bytes
    tls = ctx.wrap_socket(s, server_hostname="broker.example")
    tls.write(b"..."); tls.read(100)

The modem carries only ciphertext; or, opted into with ``wrap_socket(..., module_tls=True)``
before the socket connects, the module does the TLS itself (:mod:`.module`). Parts:
:mod:`.context` (``SSLContext``), :mod:`.stream` (the TLS socket over a modem socket, and the TLS
listener), :mod:`.session` (the TLS conversation without I/O, for the asyncio layer), :mod:`.module`
(the module's own TLS), :mod:`.base` (the surface any atsock TLS socket offers).
Errors are CPython's: ``SSLCertVerificationError`` for a certificate refused, ``SSLError`` and its
subclasses for the rest, all of them ``OSError``.
"""
import logging
import ssl as _ssl
from typing import Optional

from .base import SSLSocket
from .context import SSLContext
from .module import ModuleTLS, ModuleTLSSocket
from .session import TlsSession
from .stream import HostTLSSocket, TLSListener

log = logging.getLogger("atsock.ssl")

CERT_NONE = _ssl.CERT_NONE
CERT_OPTIONAL = _ssl.CERT_OPTIONAL
CERT_REQUIRED = _ssl.CERT_REQUIRED
PROTOCOL_TLS_CLIENT = _ssl.PROTOCOL_TLS_CLIENT
PROTOCOL_TLS_SERVER = _ssl.PROTOCOL_TLS_SERVER
TLSVersion = _ssl.TLSVersion
Purpose = _ssl.Purpose
OPENSSL_VERSION = _ssl.OPENSSL_VERSION
HAS_SNI = _ssl.HAS_SNI
SSLError = _ssl.SSLError
SSLCertVerificationError = _ssl.SSLCertVerificationError
CertificateError = _ssl.CertificateError
SSLZeroReturnError = _ssl.SSLZeroReturnError
SSLEOFError = _ssl.SSLEOFError
SSLSyscallError = _ssl.SSLSyscallError
SSLWantReadError = _ssl.SSLWantReadError
SSLWantWriteError = _ssl.SSLWantWriteError
DER_cert_to_PEM_cert = _ssl.DER_cert_to_PEM_cert
PEM_cert_to_DER_cert = _ssl.PEM_cert_to_DER_cert


def wrap_socket(sock, server_side: bool = False, key=None, cert=None, cert_reqs: int = CERT_NONE, cadata=None,
                server_hostname: Optional[str] = None, do_handshake: bool = True, *,
                keyfile=None, certfile=None, ca_certs=None, module_tls=False):
    """MicroPython's ``ssl.wrap_socket``, with its defaults: ``cert_reqs=CERT_NONE`` does not check
    the peer. Ask for ``CERT_REQUIRED`` (with ``cadata`` and ``server_hostname``) to verify, or
    use an :class:`SSLContext`, which verifies unless told otherwise.

    ``key``/``cert``: PEM or DER bytes, or file paths; ``keyfile``/``certfile`` (older MicroPython
    and CPython names) and ``ca_certs`` (a CA file path, CPython) are accepted too. A client that
    verifies also checks ``server_hostname``, as CPython does. ``module_tls`` (True or a
    :class:`ModuleTLS`): the module does the TLS (wrap before connect; see :mod:`atsock.tls.module`)."""
    context = SSLContext(PROTOCOL_TLS_SERVER if server_side else PROTOCOL_TLS_CLIENT)
    key, cert = key or keyfile, cert or certfile
    if cert is not None or key is not None:
        context.load_cert_chain(cert, key)
    if cadata is not None or ca_certs is not None:
        context.load_verify_locations(cafile=ca_certs, cadata=cadata)
    context.verify_mode = cert_reqs
    if cert_reqs == CERT_NONE and not server_side:
        log.info("TLS without certificate verification (cert_reqs=CERT_NONE, MicroPython's default)")
    return context.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=do_handshake,
                               server_hostname=server_hostname, module_tls=module_tls)


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None) -> SSLContext:
    """CPython's helper, giving an atsock context: verifying, with the system's CA certificates
    unless CAs are given."""
    return default_context(SSLContext, purpose, cafile, capath, cadata)


def default_context(context_class, purpose, cafile=None, capath=None, cadata=None):
    """What ``create_default_context`` makes, of ``context_class``."""
    context = context_class(PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    return context


__all__ = [
    "SSLContext", "SSLSocket", "HostTLSSocket", "TLSListener", "TlsSession", "ModuleTLS", "ModuleTLSSocket",
    "wrap_socket", "create_default_context",
    "CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED", "PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "TLSVersion",
    "Purpose", "OPENSSL_VERSION", "HAS_SNI", "SSLError", "SSLCertVerificationError", "CertificateError",
    "SSLZeroReturnError", "SSLEOFError", "SSLSyscallError", "SSLWantReadError", "SSLWantWriteError",
    "DER_cert_to_PEM_cert", "PEM_cert_to_DER_cert",
]
