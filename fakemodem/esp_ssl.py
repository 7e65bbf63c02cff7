"""The emulated ESP-AT module's SSL links: what each generation checks, and the 2.x client
configuration commands (AT+CIPSSLCCONF, AT+CIPSSLCCN, AT+CIPSSLCSNI, AT+CIPSSLCALPN) — esp-at.md §1.1
and ESP-AT's TCP/IP command documentation.

An ``"SSL"`` link is a real TLS connection to the host peer (:mod:`fakemodem.tlslink`) carrying
the link's data as a TCP link does. NonOS AT 1.x checks nothing, sends no SNI and holds one SSL
link at a time. ESP-AT 2.x configures each link before AT+CIPSTART: ``<auth_mode>`` 0 checks
nothing, 1 presents a client certificate, 2 checks the server's chain against a CA, 3 both. Its
CAs and client certificates are not uploaded over AT: they are flashed with the firmware (the
``client_ca`` and ``client_cert``/``client_key`` partitions), which the emulator's options
``client_ca`` (a list of PEM CAs, indexed by ``<ca_number>``) and ``client_pki`` (a list of
(certificate, key) PEM pairs, indexed by ``<pki_number>``) stand for. The server's name is
checked only against AT+CIPSSLCCN's common name; SNI is AT+CIPSSLCSNI's name, none when unset.
AT+CIPSSLCCONF's setting is kept over a restart (the documents say it is saved in NVS); the
others are not.
"""
import ssl
from typing import Dict, List, Sequence, Tuple

from . import tlslink
from .atcommand import ATCommand

ALL_LINKS = 5  # <link ID> "max": every link


def _pem(value) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


class EspSsl:
    def __init__(self, module, client_ca: Sequence = (), client_pki: Sequence[Tuple] = ()):
        self.m = module
        self.client_ca: List[bytes] = [_pem(ca) for ca in client_ca]
        self.client_pki: List[Tuple[bytes, bytes]] = [(_pem(cert), _pem(key)) for cert, key in client_pki]
        self.conf: Dict[int, Tuple[int, int, int]] = {}  # link -> (auth_mode, pki_number, ca_number)
        self.after_restart()

    def after_restart(self) -> None:
        self.common_name: Dict[int, str] = {}
        self.sni: Dict[int, str] = {}
        self.alpn: Dict[int, Tuple[str, ...]] = {}

    def handlers(self) -> dict:
        if self.m.major < 2:
            return {}
        return {"+CIPSSLCCONF": self.cipsslcconf, "+CIPSSLCCN": self.cipsslccn, "+CIPSSLCSNI": self.cipsslcsni,
                "+CIPSSLCALPN": self.cipsslcalpn}

    def settings(self, link_id: int) -> tlslink.TlsSettings:
        """The TLS of an SSL link opened now on ``link_id``."""
        top = ssl.TLSVersion.TLSv1_2  # both generations' TLS libraries stop at TLS 1.2
        if self.m.major < 2:
            return tlslink.TlsSettings(versions=(ssl.TLSVersion.TLSv1_2, top),
                                       handshake_timeout=self.m.connect_timeout)
        auth, pki, ca = self.conf.get(link_id, (0, 0, 0))
        verify = auth in (2, 3)
        settings = tlslink.TlsSettings(
            verify=verify, ca_pem=self.client_ca[ca].decode("latin-1") if verify else "",
            check_name=self.common_name.get(link_id) if verify else None, sni=self.sni.get(link_id),
            versions=(ssl.TLSVersion.TLSv1_2, top), alpn=self.alpn.get(link_id, ()),
            handshake_timeout=self.m.connect_timeout)
        if auth in (1, 3):
            settings.client_cert, settings.client_key = self.client_pki[pki]
        return settings

    # --- 2.x configuration ------------------------------------------------------------------------
    def _links(self, cmd: ATCommand) -> Tuple[List[int], int]:
        """(the links a write command sets, index of its first value): ``max`` means all of them."""
        if not self.m.mux:
            return [0], 0
        link = cmd.number(0, 0, ALL_LINKS)
        return (list(range(ALL_LINKS)) if link == ALL_LINKS else [link]), 1

    def _shown_links(self) -> List[int]:
        return list(range(ALL_LINKS)) if self.m.mux else [0]

    async def cipsslcconf(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(*[f"+CIPSSLCCONF:{link},{','.join(map(str, self.conf.get(link, (0, 0, 0))))}"
                           for link in self._shown_links()])
            return
        links, at = self._links(cmd)
        auth = cmd.number(at, 0, 3)
        pki, ca = cmd.number(at + 1, 0, 255, 0), cmd.number(at + 2, 0, 255, 0)
        if len(cmd.args) > at + 3:
            raise ValueError("CIPSSLCCONF arguments")
        if auth in (1, 3) and pki >= len(self.client_pki) or auth in (2, 3) and ca >= len(self.client_ca):
            raise ValueError("no such certificate in the module's flash")
        for link in links:
            self.conf[link] = (auth, pki, ca)
        self.m.final("OK")

    async def _name_setting(self, cmd: ATCommand, table: Dict[int, str], label: str) -> None:
        if cmd.kind == "read":
            self.m.reply(*[f'{label}:{link},"{table.get(link, "")}"' for link in self._shown_links()])
            return
        links, at = self._links(cmd)
        name = cmd.arg(at)
        if not name or len(cmd.args) != at + 1 or len(name) > 255:
            raise ValueError(f"{label} takes one name")
        for link in links:
            table[link] = name
        self.m.final("OK")

    async def cipsslccn(self, cmd: ATCommand) -> None:
        await self._name_setting(cmd, self.common_name, "+CIPSSLCCN")

    async def cipsslcsni(self, cmd: ATCommand) -> None:
        await self._name_setting(cmd, self.sni, "+CIPSSLCSNI")

    async def cipsslcalpn(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(*[f"+CIPSSLCALPN:{link}," + ",".join(f'"{p}"' for p in self.alpn.get(link, ()))
                           for link in self._shown_links()])
            return
        links, at = self._links(cmd)
        count = cmd.number(at, 1, 3)
        names = tuple(cmd.args[at + 1:])
        if len(names) != count or not all(names):
            raise ValueError("CIPSSLCALPN count")
        for link in links:
            self.alpn[link] = names
        self.m.final("OK")
