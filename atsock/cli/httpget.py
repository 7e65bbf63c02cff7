"""An HTTP/1.1 (or 1.0) GET over a modem's sockets, with redirects: CPython's ``http.client`` reads
the response (status line, headers, Content-Length, chunked bodies) through the socket's real
``makefile()``; this module dials through the modem and follows redirects.

The body goes to a ``write`` callable as it arrives, so a download never sits in memory whole.
``https://`` runs TLS on the host (:mod:`atsock.standard.ssl`) over the modem's plain TCP socket:
the module carries ciphertext only, and the server's certificate is checked here, as a browser would.
"""
import http.client
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from ..standard import ssl
from .dial import connect

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
USER_AGENT = "atsock"
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class HttpError(OSError):
    """The server's answer (or the lack of one) is not a successful download; ``status`` is the
    HTTP status where the server gave one that means failure (404, 500...)."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    url: str
    tls: bool
    host: str
    port: int
    path: str


@dataclass
class Response:
    url: str
    status: int
    reason: str
    headers: List[Tuple[str, str]]
    length: Optional[int]

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


def parse_url(url: str) -> Target:
    if _UNSAFE.search(url):
        raise ValueError(f"URL contains spaces or control characters: {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    tls = parts.scheme == "https"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url, tls, parts.hostname, parts.port or (443 if tls else 80), path)


Wrap = Callable[[object, str], object]


def tls_wrapper(cafile: Optional[str] = None, verify: bool = True) -> Wrap:
    """``wrap(sock, server_hostname)`` for https:// URLs: host TLS over a connected modem socket.

    The server's certificate and name are verified, against the system's CA store
    (``ssl.create_default_context`` semantics) or only against the CA certificates in ``cafile``;
    ``verify=False`` checks neither (``--insecure``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    if not verify:
        context.verify_mode = ssl.CERT_NONE  # atsock's context also turns check_hostname off
    elif cafile is not None:
        context.load_verify_locations(cafile=cafile)
    else:
        context.load_default_certs()
    return lambda sock, host: context.wrap_socket(sock, server_hostname=host)


class _ModemConnection(http.client.HTTPConnection):
    """``http.client`` over a modem socket: connect() dials through the modem (and wraps TLS)."""

    def __init__(self, modem, target: Target, timeout: float, wrap: Optional[Wrap], version: str):
        super().__init__(target.host, target.port, timeout=timeout)
        if version == "1.0":
            self._http_vsn, self._http_vsn_str = 10, "HTTP/1.0"
        self._modem, self._target, self._wrap = modem, target, wrap

    def connect(self) -> None:
        sock = connect(self._modem, self.host, self.port, self.timeout)
        try:
            sock.settimeout(self.timeout)
            self.sock = self._wrap(sock, self.host) if self._target.tls else sock
        except BaseException:
            sock.close()
            raise


def _fetch(connection: _ModemConnection, target: Target) -> http.client.HTTPResponse:
    connection.request("GET", target.path, headers={"User-Agent": USER_AGENT, "Accept": "*/*",
                                                    "Connection": "close"})
    return connection.getresponse()


def _body(response: http.client.HTTPResponse):
    while True:
        data = response.read(CHUNK)
        if not data:
            break
        yield data
    if response.length:  # http.client's read(n) ends quietly on a short Content-Length body
        raise HttpError(f"connection closed {response.length} bytes before the end of the body")


def get(modem, url: str, write: Callable[[bytes], object], *, on_start: Callable[[Response], None] = None,
        on_data: Callable[[int], None] = None, version: str = "1.1", max_redirects: int = 5,
        timeout: float = 60.0, wrap: Optional[Wrap] = None) -> Response:
    """Fetch ``url`` through ``modem``, following redirects; the body goes to ``write``. https://
    (first or after a redirect) goes through ``wrap`` (default: :func:`tls_wrapper`, verifying)."""
    for _ in range(max_redirects + 1):
        target = parse_url(url)
        if target.tls and wrap is None:
            wrap = tls_wrapper()
        connection = _ModemConnection(modem, target, timeout, wrap, version)
        try:
            answer = _fetch(connection, target)
            response = Response(url, answer.status, answer.reason, answer.getheaders(), answer.length)
            location = response.header("Location")
            if response.status in REDIRECTS and location:
                url = urljoin(url, location)
                continue
            if response.status >= 400:
                raise HttpError(f"{url}: HTTP {response.status} {response.reason}".rstrip(), response.status)
            if on_start:
                on_start(response)
            for data in _body(answer):
                write(data)
                if on_data:
                    on_data(len(data))
            return response
        except http.client.HTTPException as exc:  # a malformed or cut-short answer
            raise HttpError(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()
    raise HttpError(f"more than {max_redirects} redirects, the last to {url}")
