"""Quectel's own TLS: connections the module opens with AT+QSSLOPEN (quectel-ssl.md).

=====================  ======================================================================
certificates           ``AT+QFDEL="<f>"`` (``+CME ERROR: 405``: none yet), ``AT+QFUPL="<f>",<n>,<s>`` ->
                       ``CONNECT`` -> n raw bytes -> ``+QFUPL: <n>,<xor16>``, checked numerically;
                       ``+CME ERROR: 407`` (it exists): delete, upload again. Removed with
                       ``AT+QFDEL`` as soon as the handshake is over.
SSL context            ``AT+QSSLCFG="sslversion"|"ciphersuite"|"seclevel"|"cacert"|"clientcert"|
                       "clientkey"|"sni",<ctx>,<value>``
``connect``            ``AT+QSSLOPEN=<pdp>,<ctx>,<id>,"<host>",<port>,0`` -> ``OK`` -> ``+QSSLOPEN: <id>,<err>``;
                       566 is every certificate problem and a refused connection alike:
                       ``AT+QIGETERROR`` tells them apart (0 after a failed handshake)
``send``               ``AT+QSSLSEND=<id>,<n>`` -> ``> `` -> n bytes -> ``SEND OK`` / ``SEND FAIL``
data arrives           ``+QSSLURC: "recv",<id>`` -> ``AT+QSSLRECV=<id>,1500`` until ``+QSSLRECV: 0``
peer closes            ``+QSSLURC: "closed",<id>``: the id stays the host's until ``AT+QSSLCLOSE``
``close``              ``AT+QSSLCLOSE=<id>``
=====================  ======================================================================

Client ids come from the same pool as the connectIDs (the socket core's), which keeps the two
apart as the reference advises. Opens take a lock from the first upload to the removal of the
files: they share the SSL context and its file names.
"""
import asyncio
import errno
import logging
import ssl
from typing import Dict, List, Optional, Set, Tuple

from atsock.wire import atcmd
from atsock.errors import os_error
from atsock.wire.fields import parse_int, split_fields
from atsock.wire.framing import payload_rule
from atsock.tls.module import ModuleTlsRequest, handshake_error, verification_error

from . import cause
from .codes import MAX_LINKS, QIRD_MAX, READ_TRAILER, T_QUERY, quectel_error

log = logging.getLogger("atsock.quectel")

SSL_CONTEXTS = 6            # <sslctxID> 0-5
ALL_SUITES = 0xFFFF         # "ciphersuite": every suite the firmware has
SSLVERSION_TLS12, SSLVERSION_ALL = 3, 4
T_UPLOAD = 30               # seconds the module waits for an upload's bytes
T_UPLOAD_ANSWER = 60.0
FILE_NOT_FOUND, FILE_EXISTS = 405, 407
CONNECT_FAILED, ID_IN_USE = 566, 563
PAYLOAD_RULE = payload_rule(rb"\+QSSLRECV: (?P<len>\d{1,9})\r\n", QIRD_MAX, trailer=READ_TRAILER)


def checksum(data: bytes) -> int:
    """AT+QFUPL's checksum: the XOR of the data as big-endian 16-bit words (an odd last byte
    is the high half of a last word)."""
    value = 0
    for index in range(0, len(data), 2):
        value ^= (data[index] << 8) | (data[index + 1] if index + 1 < len(data) else 0)
    return value


def client_id(slot_id: int) -> atcmd.Param:
    return atcmd.number(slot_id, 0, MAX_LINKS - 1, "clientID")


class QuectelTls:
    def __init__(self, engine, pdp_context: atcmd.Param, t_open: float, t_read: float, t_close: float):
        self.engine = engine
        self.pdp = pdp_context
        self.t_open = t_open
        self.t_read = t_read
        self.t_close = t_close
        self.secure: Set[int] = set()  # ids held by connections the module does the TLS of
        self._waiters: Dict[int, asyncio.Future] = {}
        self._lock = asyncio.Lock()
        self._sni = True  # False once the firmware refused "sni"

    def attach(self, engine, core) -> None:
        """Hear the SSL URCs and read AT+QSSLRECV's counted data; ``core()`` is the socket core."""
        engine.channel.add_payload_rule(PAYLOAD_RULE)
        engine.on_urc("+QSSLOPEN:", lambda urc: self._on_qsslopen(urc.text))
        engine.on_urc("+QSSLURC:", lambda urc: self._on_qsslurc(core(), urc.text))

    def forget(self) -> None:
        self.secure.clear()

    # --- opening ---------------------------------------------------------------------------------
    def check(self, request: ModuleTlsRequest) -> None:
        options = request.options
        if options.ca_slot is not None or options.pki_slot is not None:
            raise os_error(errno.EINVAL, "ca_slot and pki_slot name certificates flashed in an ESP-AT module; "
                                         "a Quectel module is given the context's own")
        if not 0 <= options.ssl_context < SSL_CONTEXTS:
            raise os_error(errno.EINVAL, f"a Quectel SSL context is 0-{SSL_CONTEXTS - 1}, not {options.ssl_context}")
        if request.minimum_version > ssl.TLSVersion.TLSv1_2:
            raise os_error(errno.EOPNOTSUPP, "the module's TLS goes up to TLS 1.2 (AT+QSSLCFG \"sslversion\")")

    async def open(self, conn, ip: str, port: int) -> None:
        request: ModuleTlsRequest = conn.tls
        slot_id = conn.id
        self.secure.add(slot_id)
        ctx = atcmd.number(request.options.ssl_context, 0, SSL_CONTEXTS - 1, "SSL context")
        async with self._lock:
            files: List[str] = []
            try:
                files = await self._upload(request, request.options.ssl_context)
                await self._configure(ctx, request, files)
                error = await self._qsslopen(ctx, slot_id, request.server_hostname or ip, port)
                if error == ID_IN_USE:  # left open by an earlier run of the host: free it, once
                    await self.close(slot_id)
                    self.secure.add(slot_id)
                    error = await self._qsslopen(ctx, slot_id, request.server_hostname or ip, port)
                failure = await self._failure(error, request) if error else None
            finally:
                await self._remove(files)
        if failure is not None:
            raise failure

    async def _upload(self, request: ModuleTlsRequest, ctx: int) -> List[str]:
        """The context's CAs and client credentials as UFS files; their names, in that order."""
        wanted: List[Tuple[str, bytes]] = []
        if request.verify:
            wanted.append((f"atsock{ctx}_ca.pem", b"".join(request.ca_pems)))
        if request.client_cert and request.client_key:
            wanted += [(f"atsock{ctx}_cert.pem", request.client_cert), (f"atsock{ctx}_key.pem", request.client_key)]
        uploaded = []
        try:
            for name, data in wanted:
                if data:
                    await self._upload_file(name, data)
                    uploaded.append(name)
        except BaseException:
            await self._remove(uploaded)
            raise
        return [name for name, _ in wanted]

    async def _upload_file(self, name: str, data: bytes) -> None:
        await self._delete(name)
        command = atcmd.build("AT+QFUPL", atcmd.text(name, "file name", 80), atcmd.number(len(data), 1, 2 ** 31 - 1),
                              atcmd.number(T_UPLOAD, 1, 65535))
        for attempt in range(2):
            response = await self.engine.command(command, payload=data, prompt_line="CONNECT",
                                                 timeout=T_UPLOAD_ANSWER, response_prefixes=("+QFUPL:",), check=False)
            if response.final.error_code == FILE_EXISTS and attempt == 0:
                await self._delete(name)
                continue
            break
        if not response.final.ok:
            raise os_error(errno.EIO, f"the module did not take {name} ({response.final.text})")
        fields = split_fields(response.values("+QFUPL:")[0]) if response.values("+QFUPL:") else []
        size = parse_int(fields[0], 0, 2 ** 31 - 1) if fields else None
        try:
            digest = int(fields[1], 16) if len(fields) > 1 else None
        except ValueError:
            digest = None
        if size != len(data) or digest != checksum(data):
            await self._delete(name)
            raise os_error(errno.EIO, f"{name} reached the module damaged: +QFUPL: {','.join(fields)} for "
                                      f"{len(data)} bytes with checksum {checksum(data):04x}")

    async def _delete(self, name: str) -> None:
        response = await self.engine.command(atcmd.build("AT+QFDEL", atcmd.text(name, "file name", 80)),
                                             timeout=T_QUERY, check=False)
        if not response.final.ok and response.final.error_code != FILE_NOT_FOUND:
            log.warning("could not delete %s from the module: %s", name, response.final.text)

    async def _remove(self, files: List[str]) -> None:
        """The certificates leave the module once the handshake no longer needs them."""
        for name in files:
            try:
                await self._delete(name)
            except OSError as exc:  # the module is gone: so are we
                log.warning("could not delete %s from the module: %s", name, exc)

    async def _configure(self, ctx: atcmd.Param, request: ModuleTlsRequest, files: List[str]) -> None:
        def setting(name: str, *values: atcmd.Param):
            return atcmd.build("AT+QSSLCFG", atcmd.text(name), ctx, *values)

        level = (2 if request.client_cert else 1) if request.verify else 0
        tls12_only = request.minimum_version >= ssl.TLSVersion.TLSv1_2
        commands = [setting("sslversion", atcmd.number(SSLVERSION_TLS12 if tls12_only else SSLVERSION_ALL, 0, 4)),
                    setting("ciphersuite", atcmd.hexadecimal(ALL_SUITES, 0, 0xFFFF)),
                    setting("seclevel", atcmd.number(level, 0, 2))]
        if request.verify:
            commands.append(setting("cacert", atcmd.text(files[0], "file name", 80)))
        if request.client_cert and request.client_key:
            commands += [setting("clientcert", atcmd.text(files[-2], "file name", 80)),
                         setting("clientkey", atcmd.text(files[-1], "file name", 80))]
        for command in commands:
            response = await self.engine.command(command, timeout=T_QUERY, check=False)
            if not response.final.ok:
                raise os_error(errno.EIO, f"the module refused {command} ({response.final.text})")
        if self._sni:
            sni = setting("sni", atcmd.number(1 if request.server_hostname else 0, 0, 1))
            response = await self.engine.command(sni, timeout=T_QUERY, check=False)
            if not response.final.ok:
                self._sni = False
                log.info("this firmware sends no SNI (%s answered %s)", sni, response.final.text)

    async def _qsslopen(self, ctx: atcmd.Param, slot_id: int, host: str, port: int) -> int:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[slot_id] = waiter
        try:
            response = await self.engine.command(
                atcmd.build("AT+QSSLOPEN", self.pdp, ctx, client_id(slot_id), atcmd.text(host, "server address", 150),
                            atcmd.number(port, 0, 65535, "port"), atcmd.number(0, 0, 2)),
                timeout=T_QUERY, check=False)
            if not response.final.ok:
                raise await cause.failure(self.engine, "AT+QSSLOPEN", response.final)
            return await asyncio.wait_for(waiter, self.t_open)
        except asyncio.TimeoutError:
            raise os_error(errno.ETIMEDOUT, f"no +QSSLOPEN for client {slot_id} within {self.t_open:g} s") from None
        finally:
            self._waiters.pop(slot_id, None)

    async def _failure(self, error: int, request: ModuleTlsRequest) -> OSError:
        """What ``+QSSLOPEN: <id>,<error>`` means. 566 is the module's answer to every certificate
        problem and to a refused connection; AT+QIGETERROR keeps the TCP/IP error of the latter
        and says 0 after a handshake that failed."""
        if error != CONNECT_FAILED:
            return quectel_error(error)
        last = await cause.last_error(self.engine)
        if last not in (None, 0):
            return quectel_error(last)
        if request.verify:
            return verification_error("the module refused the server's certificate (untrusted, expired, for "
                                      "another name, or no CA): Quectel modules report all of these as 566")
        return handshake_error("the module reports +QSSLOPEN 566 after connecting")

    # --- data and closing ------------------------------------------------------------------------
    async def fetch(self, conn, guard) -> Optional[Tuple[bytes, None]]:
        response = await self.engine.command(
            atcmd.build("AT+QSSLRECV", client_id(conn.id), atcmd.number(QIRD_MAX, 1, QIRD_MAX)),
            timeout=self.t_read, response_prefixes=("+QSSLRECV:",), check=False, guard=guard)
        if not response.final.ok:
            raise os_error(errno.ECONNRESET, f"modem cannot read SSL client {conn.id} ({response.final.text})")
        line = response.first("+QSSLRECV:")
        if line is None or line.data is None:
            raise os_error(errno.EPROTO, f"AT+QSSLRECV answered without a +QSSLRECV header: {response.lines!r}")
        return (line.data, None) if line.data else None

    async def close(self, slot_id: int) -> None:
        await self.engine.command(atcmd.build("AT+QSSLCLOSE", client_id(slot_id)), timeout=self.t_close, check=False)
        self.secure.discard(slot_id)

    # --- URCs ------------------------------------------------------------------------------------
    def _on_qsslopen(self, text: str) -> None:
        fields = split_fields(text[len("+QSSLOPEN:"):])
        slot_id = parse_int(fields[0], 0, MAX_LINKS - 1)
        error = parse_int(fields[1], 0, 65535) if len(fields) > 1 else None
        waiter = self._waiters.get(slot_id) if slot_id is not None else None
        if waiter is None or error is None:
            log.warning("unexpected %r", text)
        elif not waiter.done():
            waiter.set_result(error)

    def _on_qsslurc(self, core, text: str) -> None:
        fields = split_fields(text[len("+QSSLURC:"):])
        slot_id = parse_int(fields[1], 0, MAX_LINKS - 1) if len(fields) > 1 else None
        if fields[0] in ("recv", "closed") and slot_id in self.secure:
            core.data_waiting(slot_id, peer_finished=fields[0] == "closed")
        else:
            log.info("unhandled %r", text)

