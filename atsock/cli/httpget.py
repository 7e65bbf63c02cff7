"""An HTTP/1.1 (or 1.0) GET over a modem's sockets: redirects, Content-Length, chunked bodies.

The body goes to a ``write`` callable as it arrives, so a download never sits in memory whole.
``https://`` runs TLS on the host (:mod:`atsock.ssl`) over the modem's plain TCP socket: the module
carries ciphertext only, and the server's certificate is checked here, as a browser would.
"""
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from .. import ssl
from .dial import connect

REDIRECTS = frozenset({301, 302, 303, 307, 308})
NO_BODY = frozenset({204, 304})
MAX_HEAD = 64 * 1024
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

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


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


class _Reader:
    """Buffered reads from a modem socket: lines for the head, counted or open-ended bodies."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.sock.recv(CHUNK)
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def line(self, limit: int = MAX_HEAD) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            if len(self.buffer) > limit:
                raise HttpError("response head line too long")
            if not self._fill():
                raise HttpError("connection closed in the middle of the response head")

    def some(self, limit: int) -> bytes:
        if not self.buffer and not self._fill():
            return b""
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return data


def _request(target: Target, version: str) -> bytes:
    lines = [f"GET {target.path} HTTP/{version}", f"Host: {target.host_header}", f"User-Agent: {USER_AGENT}",
             "Accept: */*", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("ascii")


def _read_head(reader: _Reader) -> Tuple[int, str, List[Tuple[str, str]]]:
    while True:
        status_line = reader.line().decode("latin-1").rstrip("\r\n")
        match = re.match(r"HTTP/\d\.\d (\d{3})(?: (.*))?$", status_line)
        if not match:
            raise HttpError(f"not an HTTP response: {status_line[:80]!r}")
        headers, size = [], 0
        while True:
            line = reader.line().decode("latin-1").rstrip("\r\n")
            size += len(line)
            if size > MAX_HEAD:
                raise HttpError("response head too long")
            if not line:
                break
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        status = int(match.group(1))
        if status != 100:  # an interim "100 Continue" is followed by the real head
            return status, match.group(2) or "", headers


def _body(reader: _Reader, response: Response):
    if response.status in NO_BODY:
        return
    if (response.header("Transfer-Encoding") or "").lower().endswith("chunked"):
        yield from _chunked(reader)
        return
    left = response.length
    while left is None or left > 0:
        data = reader.some(CHUNK if left is None else min(CHUNK, left))
        if not data:
            if left is not None:
                raise HttpError(f"connection closed {left} bytes before the end of the body")
            return
        if left is not None:
            left -= len(data)
        yield data


def _chunked(reader: _Reader):
    while True:
        size_line = reader.line().split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpError(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            while reader.line().strip():  # trailers
                pass
            return
        while size:
            data = reader.some(min(CHUNK, size))
            if not data:
                raise HttpError("connection closed in the middle of a chunk")
            size -= len(data)
            yield data
        reader.line()  # the CRLF after the chunk


def get(modem, url: str, write: Callable[[bytes], object], *, on_start: Callable[[Response], None] = None,
        on_data: Callable[[int], None] = None, version: str = "1.1", max_redirects: int = 5,
        timeout: float = 60.0, wrap: Optional[Wrap] = None) -> Response:
    """Fetch ``url`` through ``modem``, following redirects; the body goes to ``write``. https://
    (first or after a redirect) goes through ``wrap`` (default: :func:`tls_wrapper`, verifying)."""
    for _ in range(max_redirects + 1):
        target = parse_url(url)
        if target.tls and wrap is None:
            wrap = tls_wrapper()
        sock = connect(modem, target.host, target.port, timeout)
        try:
            sock.settimeout(timeout)
            if target.tls:
                sock = wrap(sock, target.host)
            sock.sendall(_request(target, version))
            reader = _Reader(sock)
            status, reason, headers = _read_head(reader)
            length = next((value for name, value in headers if name.lower() == "content-length"), None)
            response = Response(url, status, reason, headers, int(length) if length and length.isdigit() else None)
            location = response.header("Location")
            if status in REDIRECTS and location:
                url = urljoin(url, location)
                continue
            if status >= 400:
                raise HttpError(f"{url}: HTTP {status} {reason}".rstrip(), status)
            if on_start:
                on_start(response)
            for data in _body(reader, response):
                write(data)
                if on_data:
                    on_data(len(data))
            return response
        finally:
            sock.close()
    raise HttpError(f"more than {max_redirects} redirects, the last to {url}")
