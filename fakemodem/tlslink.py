"""Real TLS toward the host peer, for the emulated modules' secure links (Quectel AT+QSSLOPEN,
ESP-AT ``"SSL"`` links).

A module's TLS settings become a CPython ``ssl`` context, and asyncio's TLS transport carries the
link: the link's :class:`~fakemodem.hostlink.TcpBridge` sees plaintext exactly as on a plain TCP
link, while the peer sees a real TLS client. What the module checks is checked here: the chain
against the CAs it holds (uploaded by the host or flashed in its firmware), the name it was told
to check, the validity dates unless told to ignore them. What goes wrong comes back as a
:class:`TlsFailure` whose ``stage`` tells a connection that never came from a handshake that failed.
"""
import asyncio
import ipaddress
import os
import ssl
import tempfile
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

NO_CHECK_TIME = 0x200000  # OpenSSL's X509_V_FLAG_NO_CHECK_TIME: certificate dates are not checked
ALL_SUITES = 0xFFFF       # Quectel's "every suite the firmware has"


class TlsFailure(Exception):
    """``stage``: "connect" (no TCP connection), "handshake" (TLS refused or failed), "timeout"."""

    def __init__(self, stage: str, detail: str):
        super().__init__(f"{stage}: {detail}")
        self.stage = stage
        self.detail = detail


@dataclass
class TlsSettings:
    verify: bool = False                       # check the server's chain against ``ca_pem``
    ca_pem: str = ""                           # the CAs the module trusts (PEM text, may be empty)
    check_name: Optional[str] = None           # the name the server's certificate must carry
    sni: Optional[str] = None                  # the name sent as Server Name Indication
    client_cert: Optional[bytes] = None        # PEM, presented when the server asks
    client_key: Optional[bytes] = None
    key_password: Optional[str] = None
    versions: Tuple[ssl.TLSVersion, ssl.TLSVersion] = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    suite: int = ALL_SUITES                    # one IANA cipher-suite number, or all of them
    ignore_time: bool = False
    alpn: Tuple[str, ...] = ()
    handshake_timeout: float = 300.0


def suite_name(number: int) -> Optional[str]:
    """OpenSSL's name of the TLS 1.2 cipher suite with IANA ``number``; None if it has none."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:@SECLEVEL=0")
    for suite in context.get_ciphers():
        if suite["id"] & 0xFFFF == number and suite["protocol"] != "TLSv1.3":
            return suite["name"]
    return None


def make_context(settings: TlsSettings) -> ssl.SSLContext:
    """The client context a module with these settings amounts to (ssl.SSLError or ValueError
    when its material does not load)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # names are checked in connect(): the module decides which
    context.verify_mode = ssl.CERT_REQUIRED if settings.verify else ssl.CERT_NONE
    if settings.verify and settings.ca_pem.strip():
        context.load_verify_locations(cadata=settings.ca_pem)
    if settings.ignore_time:
        context.verify_flags |= NO_CHECK_TIME
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated in CPython: a module may still ask
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version, context.maximum_version = settings.versions
    if settings.suite != ALL_SUITES:
        name = suite_name(settings.suite)
        if name is None:
            raise ValueError(f"no cipher suite 0x{settings.suite:04X} on this host")
        context.set_ciphers(name)
    if settings.alpn:
        context.set_alpn_protocols(list(settings.alpn))
    if settings.client_cert and settings.client_key:
        with tempfile.TemporaryDirectory(prefix="fakemodem-tls-") as private:  # mode 0700, gone at once
            cert, key = os.path.join(private, "cert.pem"), os.path.join(private, "key.pem")
            for path, data in ((cert, settings.client_cert), (key, settings.client_key)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                    file.write(data)
            context.load_cert_chain(cert, key, settings.key_password)
    return context


def name_matches(cert: dict, name: str) -> bool:
    """Whether the (verified) certificate ``cert`` names ``name``: a DNS name of its subject
    alternative names (a ``*`` standing for the whole first label), an IP address one, or, when
    it has no DNS names, its common name."""
    try:
        address = str(ipaddress.ip_address(name))
    except ValueError:
        address = None
    entries = cert.get("subjectAltName", ())
    if address is not None:
        return any(kind == "IP Address" and _same_address(value, address) for kind, value in entries)
    dns = [value for kind, value in entries if kind == "DNS"]
    if not dns:
        dns = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    wanted = name.lower().rstrip(".")
    for pattern in dns:
        pattern = pattern.lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _same_address(value: str, address: str) -> bool:
    try:
        return str(ipaddress.ip_address(value.strip())) == address
    except ValueError:
        return False


async def connect(bridge: asyncio.Protocol, ip: str, port: int, settings: TlsSettings,
                  connect_timeout: float) -> None:
    """Open a TLS connection to ``ip:port`` whose plaintext goes to ``bridge``; TlsFailure if not."""
    try:
        context = make_context(settings)
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise TlsFailure("handshake", f"the module's TLS material does not load: {exc}") from None
    loop = asyncio.get_running_loop()
    # SNI goes out only with a name; "" tells asyncio to send none (and check none: done below)
    server_hostname = settings.sni if settings.sni and not _is_address(settings.sni) else ""
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: bridge, ip, port, ssl=context, server_hostname=server_hostname,
                                   ssl_handshake_timeout=settings.handshake_timeout),
            connect_timeout + settings.handshake_timeout)
    except ssl.SSLError as exc:
        raise TlsFailure("handshake", str(exc)) from None
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
        stage = "timeout" if "taking longer" in str(exc) else "handshake"
        raise TlsFailure(stage, str(exc) or type(exc).__name__) from None
    except asyncio.TimeoutError:
        raise TlsFailure("timeout", "no connection or handshake in time") from None
    except OSError as exc:
        raise TlsFailure("connect", str(exc)) from None
    if settings.verify and settings.check_name is not None:
        cert = transport.get_extra_info("peercert") or {}
        if not name_matches(cert, settings.check_name):
            transport.abort()
            raise TlsFailure("handshake", f"the certificate does not name {settings.check_name!r}")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False
