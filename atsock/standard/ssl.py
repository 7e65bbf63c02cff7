"""``import ssl`` for ordinary code: CPython's names, with contexts that do TLS over modem sockets.

``SSLContext`` is atsock's (:mod:`atsock.tls.context`: a real ``ssl.SSLContext`` subclass taking
PEM or DER) whose ``wrap_socket`` gives, over a modem socket, a TLS socket with CPython's object
surface (:class:`SSLSocket`: ``makefile``, ``recv_into``, ``sendfile``...). The helpers that make
contexts (``create_default_context`` and the private ones ``http.client`` and ``urllib.request``
call) make these; ``get_server_certificate`` and ``create_connection`` connect through the modem.
``wrap_socket`` is MicroPython's (CPython's was removed in 3.12); ``MemoryBIO``, ``SSLObject``, the
constants and the errors are CPython's.
"""
from ssl import *  # noqa: F401,F403 - CPython's names first; the modem's replace some below
from ssl import (AlertDescription, Options, SSLErrorNumber, VerifyFlags, VerifyMode,  # noqa: F401
                 CHANNEL_BINDING_TYPES, DefaultVerifyPaths, PEM_FOOTER, PEM_HEADER, socket_error)
from ssl import CERT_NONE, DER_cert_to_PEM_cert, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, Purpose

from .. import tls
from ..tls.stream import HostTLSSocket
from . import socket as _socket
from .files import FileSurface

socket = _socket.socket
create_connection = _socket.create_connection
wrap_socket = tls.wrap_socket


class SSLSocket(FileSurface, HostTLSSocket):
    """Host TLS over a modem socket, with CPython's object surface (``family``, ``recv_into`` and
    the refusal of flags are every atsock TLS socket's: :mod:`atsock.tls.base`)."""

    def getblocking(self) -> bool:
        """False once the socket's time-out is 0, else True."""
        return self.gettimeout() != 0

    @property
    def _sslobj(self):
        """CPython's private name for the TLS state, which httpcore reads (for the ALPN result)."""
        return self._tls.object

    def dup(self):
        """``NotImplementedError``, as CPython's TLS sockets refuse it."""
        raise NotImplementedError(f"Can't dup() {type(self).__name__} instances")



class SSLContext(tls.SSLContext):
    """atsock's context (:class:`atsock.tls.SSLContext`) whose ``wrap_socket`` gives this module's
    :class:`SSLSocket`."""
    host_tls_class = SSLSocket


def create_default_context(purpose=Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None) -> SSLContext:
    """CPython's: verifying, with the system's CAs unless some are given."""
    return tls.default_context(SSLContext, purpose, cafile, capath, cadata)


def _create_unverified_context(protocol=None, *, cert_reqs=CERT_NONE, check_hostname=False,
                               purpose=Purpose.SERVER_AUTH, certfile=None, keyfile=None, cafile=None, capath=None,
                               cadata=None) -> SSLContext:
    """CPython's private helper (``urllib.request``, ``http.client``'s callers use it)."""
    context = SSLContext(protocol or (PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER))
    if not check_hostname:
        context.check_hostname = False
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    if check_hostname:
        context.check_hostname = True
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if certfile or keyfile:
        context.load_cert_chain(certfile, keyfile)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    return context


_create_default_https_context = create_default_context
_create_stdlib_context = _create_unverified_context


def get_server_certificate(addr, ssl_version=PROTOCOL_TLS_CLIENT, ca_certs=None,
                           timeout=_socket._GLOBAL_DEFAULT_TIMEOUT):
    """The server's certificate (PEM), fetched through the modem."""
    host, port = addr
    context = _create_unverified_context(ssl_version, cert_reqs=CERT_NONE if ca_certs is None else 2,
                                         cafile=ca_certs)
    with create_connection(addr, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls_sock:
            return DER_cert_to_PEM_cert(tls_sock.getpeercert(True))


#: names that use the modem or make contexts that do; every other name is CPython's own
MODEM = frozenset({"socket", "create_connection", "wrap_socket", "SSLSocket", "SSLContext", "create_default_context",
                   "get_server_certificate"})
