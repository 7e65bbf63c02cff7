"""ESP-AT's own TLS: ``"SSL"`` links, with what each firmware generation can check.

=====================  ======================================================================
NonOS AT 1.x           ``AT+CIPSSLSIZE=4096`` once, then ``AT+CIPSTART=<id>,"SSL","<ip>",<port>``:
                       no certificate check, no SNI, one SSL link at a time. A context that
                       verifies is refused: the module would connect without checking.
ESP-AT 2.x             ``AT+CIPSSLCCONF=<id>,<auth>[,<pki>,<ca>]`` (0 none, 1 client certificate,
                       2 check the server, 3 both), ``AT+CIPSSLCSNI=<id>,"<name>"``,
                       ``AT+CIPSSLCCN=<id>,"<name>"`` (the name the certificate must carry), then
                       ``AT+CIPSTART=<id>,"SSL",...``. The CA and client certificate are the ones
                       flashed into the module, chosen by index (:class:`atsock.tls.module.ModuleTLS`).
=====================  ======================================================================

Data, receiving and closing are those of a TCP link. A failed AT+CIPSTART does not say whether
the connection or the handshake failed.
"""
import errno
from typing import Set

from atsock.wire import atcmd
from atsock.errors import os_error
from atsock.tls.module import ModuleTlsRequest

from .codes import MAX_LINKS, T_QUERY

SSL_BUFFER = 4096  # AT+CIPSSLSIZE, 1.x: the largest buffer the documents allow


class EspTls:
    def __init__(self, dialect):
        self.d = dialect
        self.secure: Set[int] = set()  # link ids whose TLS the module does
        self._sized = False            # AT+CIPSSLSIZE sent since the module started

    def forget(self) -> None:
        self.secure.clear()
        self._sized = False

    def check(self, request: ModuleTlsRequest) -> None:
        options = request.options
        if self.d.firmware_major < 2:
            if request.verify or request.client_cert or options.pki_slot is not None:
                raise os_error(errno.EOPNOTSUPP, "NonOS AT 1.x cannot check the server's certificate nor present "
                                                 "one of its own: use host TLS (wrap without module_tls), or a "
                                                 "context with verify_mode CERT_NONE to accept any server")
            if self.secure:
                raise os_error(errno.EMFILE, "NonOS AT 1.x holds one SSL link at a time")
            return
        if request.verify and options.ca_slot is None:
            raise os_error(errno.EINVAL, "ESP-AT checks the server against a CA flashed into the module "
                                         "(its client_ca partition), not the context's: pass "
                                         "module_tls=ssl.ModuleTLS(ca_slot=<index>) to use that CA")
        if request.verify and not request.server_hostname:
            raise os_error(errno.EINVAL, "ESP-AT keeps a link's name to check between connections: give "
                                         "server_hostname when the module verifies")
        if request.client_cert and options.pki_slot is None:
            raise os_error(errno.EINVAL, "ESP-AT presents a client certificate flashed into the module, not the "
                                         "context's: pass module_tls=ssl.ModuleTLS(pki_slot=<index>)")

    async def prepare(self, conn) -> None:
        """What the link's TLS needs said before its AT+CIPSTART."""
        request: ModuleTlsRequest = conn.tls
        link = atcmd.number(conn.id, 0, MAX_LINKS - 1, "link id")
        self.secure.add(conn.id)
        if self.d.firmware_major < 2:
            if not self._sized:
                await self.d.command(atcmd.build("AT+CIPSSLSIZE", atcmd.number(SSL_BUFFER, 2048, 4096)),
                                     timeout=T_QUERY, check=False)
                self._sized = True
            return
        options = request.options
        auth = (2 if request.verify else 0) + (1 if options.pki_slot is not None else 0)
        params = [link, atcmd.number(auth, 0, 3)]
        if auth:
            params += [atcmd.number(options.pki_slot or 0, 0, 255, "pki_slot"),
                       atcmd.number(options.ca_slot or 0, 0, 255, "ca_slot")]
        commands = [atcmd.build("AT+CIPSSLCCONF", *params)]
        if request.server_hostname:
            name = atcmd.escaped_text(request.server_hostname, "server name", 253)
            commands.append(atcmd.build("AT+CIPSSLCSNI", link, name))
            if request.verify:
                commands.append(atcmd.build("AT+CIPSSLCCN", link, name))
        for command in commands:
            response = await self.d.command(command, timeout=T_QUERY, check=False)
            if not response.final.ok:
                raise os_error(errno.EIO, f"the module refused {command} ({response.final.text})")
