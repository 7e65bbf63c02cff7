"""The emulated Quectel module's own TLS: SSL contexts (AT+QSSLCFG) and SSL clients (AT+QSSLOPEN,
AT+QSSLSEND, AT+QSSLRECV, AT+QSSLCLOSE, AT+QSSLSTATE, ``+QSSLURC``) — quectel-ssl.md.

Every client is a real TLS connection to the host peer (:mod:`fakemodem.tlslink`), made with the
settings of its SSL context at open time and the certificate files of the module's UFS
(:mod:`fakemodem.quectel_files`): ``seclevel`` 0 checks nothing, 1 checks the server's chain
against ``cacert`` (a missing file trusts nothing), 2 also presents ``clientcert``/``clientkey``.
Every failure of the TLS part is ``+QSSLOPEN: <id>,566``, as the reference says of every
certificate problem. Client ids are a pool of their own (0-11), apart from the connectIDs of
AT+QIOPEN. Buffer (0) and direct-push (1) access modes; transparent mode (2) is not emulated.

Switches (defaults first):

* ``ssl_check_host`` (True): with ``seclevel`` 1 or 2 the server's certificate must name the
  ``<serveraddr>`` of AT+QSSLOPEN (the EG800K log refused a wrong host with 566); False checks
  the chain only. ``"checkhost"`` is stored and changes nothing.
* ``ssl_tls13`` (False): ``"sslversion"`` 4 ("all") offers TLS 1.3 too; no source says any of these
  firmwares has it.
* ``ssl_failure_error`` ("split"): what AT+QIGETERROR tells after a failed AT+QSSLOPEN: "split",
  the TCP/IP error of a connection that never came and 0 ("operate successfully", as the EG800K
  log shows) after a failed handshake; "none", 0 after both; "566", 566 after both.
"""
import asyncio
import ssl
from dataclasses import dataclass
from typing import Dict, Optional

from . import tlslink
from .atcommand import ATCommand
from .hostlink import TcpBridge, hand_over, pace_to_line

OPENING, CONNECTED, CLOSING = 1, 2, 4
BUFFER, PUSH, TRANSPARENT = 0, 1, 2
CONTEXTS = 6               # <sslctxID> 0-5
CLIENTS = 12               # <clientID> 0-11
CTRL_Z, ESC = 0x1A, 0x1B
ESCAPED = object()  # a variable-length send ended with ESC: nothing is sent

VERSIONS = {1: (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1), 2: (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1),
            3: (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)}
# the suites of BG96's AT+QSSLCFG=? (quectel-ssl.md §2.1); EC25 (EG25-G) adds the 0xC0xx ECDH/ECDSA range
SUITES = frozenset({0x0035, 0x002F, 0x0005, 0x0004, 0x000A, 0x003D, 0xC011, 0xC012, 0xC013, 0xC014, 0xC027, 0xC028,
                    0xC02F, tlslink.ALL_SUITES})
SUITES_EC25 = SUITES | frozenset(range(0xC001, 0xC031))

# name -> (kind, default); kinds: "int:<low>-<high>", "hex", "file", "key" (file, password), "text", "psk"
SETTINGS = {
    "sslversion": ("int:0-4", 4), "ciphersuite": ("hex", tlslink.ALL_SUITES), "seclevel": ("int:0-2", 0),
    "cacert": ("file", ""), "clientcert": ("file", ""), "clientkey": ("key", ("", "")),
    "ignorelocaltime": ("int:0-1", 1), "negotiatetime": ("int:10-300", 300), "sni": ("int:0-1", 0),
    # BG96/BG95 only
    "checkhost": ("flag_or_name", 0), "ignorecertchain": ("int:0-1", 0),
    # EC25 (EG25-G) only
    "cacertex": ("file", ""), "dtls": ("int:0-1", 0), "dtlsversion": ("int:0-1", 0), "psk": ("psk", ("", "")),
    "closetimemode": ("int:0-1", 0), "session_cache": ("int:0-1", 0), "renegotiation": ("int:0-1", 0),
    "ignoremulticertchainverify": ("int:0-1", 0), "ignoreinvalidcertsign": ("int:0-1", 0), "alpn": ("text", ""),
}
COMMON_SETTINGS = ("sslversion", "ciphersuite", "seclevel", "cacert", "clientcert", "clientkey", "ignorelocaltime",
                   "negotiatetime", "sni")


@dataclass
class SslClient:
    id: int
    pdp: int
    ctx: int
    host: str
    port: int
    access_mode: int = BUFFER
    remote_ip: str = ""
    state: int = OPENING
    bridge: Optional[TcpBridge] = None
    opener: Optional[asyncio.Task] = None
    armed: bool = True  # "recv" URC edge trigger: re-armed by a read that finds nothing

    @property
    def unread(self) -> int:
        return len(self.bridge.rx) if self.bridge is not None else 0


class SslService:
    def __init__(self, module, files, check_host: bool = True, tls13: bool = False, failure_error: str = "split"):
        if failure_error not in ("split", "none", "566"):
            raise ValueError(f"ssl_failure_error is 'split', 'none' or '566', not {failure_error!r}")
        self.m = module
        self.files = files
        self.check_host = check_host
        self.tls13 = tls13
        self.failure_error = failure_error
        self.names = COMMON_SETTINGS + tuple(sorted(module.profile.qsslcfg_extra))
        self.suites = SUITES_EC25 if "dtls" in module.profile.qsslcfg_extra else SUITES
        self.contexts = self._power_on_contexts()
        self.clients: Dict[int, SslClient] = {}

    def _power_on_contexts(self):
        return {ctx: {name: SETTINGS[name][1] for name in self.names} for ctx in range(CONTEXTS)}

    def handlers(self) -> dict:
        return {"+QSSLCFG": self.qsslcfg, "+QSSLOPEN": self.qsslopen, "+QSSLSEND": self.qsslsend,
                "+QSSLRECV": self.qsslrecv, "+QSSLCLOSE": self.qsslclose, "+QSSLSTATE": self.qsslstate}

    def test_answers(self) -> dict:
        lines = []
        for name in self.names:
            kind = SETTINGS[name][0]
            value = f"({kind[4:]})" if kind.startswith("int:") else {
                "hex": "(" + ",".join(f"0X{suite:04X}" for suite in sorted(self.suites)) + ")",
                "flag_or_name": "(0,1)", "key": '"<file>"[,"<key_pwd>"]', "psk": '"<identity>","<key>"',
            }.get(kind, '"<value>"')
            lines.append(f'+QSSLCFG: "{name}",(0-{CONTEXTS - 1}),{value}')
        return {"+QSSLCFG": lines, "+QSSLOPEN": [f"+QSSLOPEN: (1-{self.m.profile.contexts}),(0-{CONTEXTS - 1}),"
                                                 f'(0-{CLIENTS - 1}),"<serveraddr>",(0-65535),(0,1)']}

    # --- AT+QSSLCFG -------------------------------------------------------------------------------
    async def qsslcfg(self, cmd: ATCommand) -> None:
        name = cmd.arg(0) or ""
        if cmd.kind != "write" or name not in self.names or not cmd.quoted[0]:
            raise ValueError("unknown QSSLCFG name")  # names are lower case: "SNI" is refused
        ctx = cmd.number(1, 0, CONTEXTS - 1)
        settings = self.contexts[ctx]
        if len(cmd.args) == 2:
            self.m.reply(f'+QSSLCFG: "{name}",{ctx},{self._shown(name, settings[name])}')
            return
        settings[name] = self._parse(name, cmd)
        self.m.final("OK")

    def _parse(self, name: str, cmd: ATCommand):
        kind = SETTINGS[name][0]
        values = cmd.args[2:]
        if kind.startswith("int:"):
            low, high = map(int, kind[4:].split("-"))
            if len(values) != 1:
                raise ValueError(name)
            return cmd.number(2, low, high)
        if kind == "hex":
            text = values[0] if len(values) == 1 else ""
            if not text[:2] in ("0X", "0x") or not 3 <= len(text) <= 6:
                raise ValueError("cipher suite")
            suite = int(text[2:], 16)
            if suite not in self.suites:
                raise ValueError("cipher suite not offered")
            return suite
        if kind == "flag_or_name":  # BG96 test output: a flag; mbed's driver: a host name
            if len(values) != 1:
                raise ValueError(name)
            return values[0] if cmd.quoted[2] else cmd.number(2, 0, 1)
        if kind in ("key", "psk"):
            if not 1 <= len(values) <= 2 or (kind == "psk" and len(values) != 2):
                raise ValueError(name)
            return values[0], values[1] if len(values) > 1 else ""
        if len(values) != 1 or not cmd.quoted[2]:
            raise ValueError(name)
        return values[0]

    @staticmethod
    def _shown(name: str, value) -> str:
        kind = SETTINGS[name][0]
        if kind == "hex":
            return f"0X{value:04X}"
        if kind == "key":  # the file, then the password if one was given
            return f'"{value[0]}"' + (f',"{value[1]}"' if value[1] else "")
        if kind == "psk":
            return f'"{value[0]}","{value[1]}"'
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)

    def _tls_settings(self, client: SslClient) -> Optional[tlslink.TlsSettings]:
        """The TLS the module does for ``client``, from its context now; None for SSL 3.0."""
        cfg = self.contexts[client.ctx]
        version = cfg["sslversion"]
        if version == 0:
            return None  # SSL 3.0: no host TLS library offers it any more
        top = ssl.TLSVersion.TLSv1_3 if self.tls13 else ssl.TLSVersion.TLSv1_2
        verify = cfg["seclevel"] >= 1
        ca = self.files.read(cfg["cacert"]) if verify else None
        settings = tlslink.TlsSettings(
            verify=verify, ca_pem=(ca or b"").decode("latin-1"),
            check_name=client.host if verify and self.check_host else None,
            sni=client.host if cfg["sni"] else None,
            versions=VERSIONS.get(version, (ssl.TLSVersion.TLSv1_2, top)), suite=cfg["ciphersuite"],
            ignore_time=cfg["ignorelocaltime"] == 1, handshake_timeout=float(cfg["negotiatetime"]),
            alpn=(cfg["alpn"],) if cfg.get("alpn") else ())
        if cfg["seclevel"] == 2:
            key_file, password = cfg["clientkey"]
            settings.client_cert = self.files.read(cfg["clientcert"])
            settings.client_key = self.files.read(key_file)
            settings.key_password = password or None
        return settings

    # --- AT+QSSLOPEN ------------------------------------------------------------------------------
    async def qsslopen(self, cmd: ATCommand) -> None:
        m = self.m
        pdp, ctx, client_id = cmd.number(0, 1, m.profile.contexts), cmd.number(1, 0, CONTEXTS - 1), \
            cmd.number(2, 0, CLIENTS - 1)
        host, port, mode = cmd.arg(3), cmd.number(4, 0, 65535), cmd.number(5, 0, 2, BUFFER)
        if not host or not cmd.quoted[3] or len(cmd.args) > 6:
            raise ValueError("QSSLOPEN arguments")
        if mode == TRANSPARENT:
            m.ip_error(555)  # not emulated (and not seen in any log)
            return
        if not m.context_active(pdp):
            m.ip_error(561)
            return
        m.final("OK")
        if client_id in self.clients:
            m.urc(f"+QSSLOPEN: {client_id},563")
            return
        client = SslClient(client_id, pdp, ctx, host, port, mode)
        self.clients[client_id] = client
        client.opener = asyncio.ensure_future(self._open(client))

    async def _open(self, client: SslClient) -> None:
        code, tcp_failed = await self._establish(client)
        client.opener = None
        if code:
            if self.clients.get(client.id) is client:
                del self.clients[client.id]
            if self.failure_error == "566":
                self.m.last_error = 566
            elif self.failure_error == "split" and tcp_failed:
                self.m.last_error = code
            else:
                self.m.last_error = 0
            self.m.urc(f"+QSSLOPEN: {client.id},{code}")
            return
        client.state = CONNECTED
        self.m.urc(f"+QSSLOPEN: {client.id},0")
        if client.unread:
            self.on_data(client)
        if client.bridge.closed:
            self.on_closed(client)

    async def _establish(self, client: SslClient):
        """(0, False) once connected and shaken hands; else (error code, whether TCP failed)."""
        m = self.m
        addresses = m.network.resolve(client.host)
        if not addresses:
            await asyncio.sleep(m.dns_delay)
            return 565, True
        client.remote_ip = addresses[0]
        if not m.network.reachable(client.remote_ip):
            await asyncio.sleep(m.open_timeout)  # SYNs into the void
            return 569, True
        settings = self._tls_settings(client)
        if settings is None:
            return 566, False
        bridge = TcpBridge(lambda: self.on_data(client), lambda: self.on_closed(client),
                           rx_limit=m.rx_buffer, tx_limit=m.tx_buffer)
        try:
            await tlslink.connect(bridge, client.remote_ip, client.port, settings, m.open_timeout)
        except tlslink.TlsFailure as failure:
            return (566 if failure.stage != "timeout" else 569), failure.stage == "connect"
        client.bridge = bridge
        return 0, False

    # --- data -------------------------------------------------------------------------------------
    def _client(self, cmd: ATCommand) -> Optional[SslClient]:
        return self.clients.get(cmd.number(0, 0, CLIENTS - 1))

    async def qsslsend(self, cmd: ATCommand) -> None:
        """``=<id>,<len>``: that many bytes after the prompt; ``=<id>``: up to Ctrl-Z (ESC cancels)."""
        m = self.m
        client = self._client(cmd)
        length = cmd.number(1, 1, m.profile.max_send) if len(cmd.args) > 1 else None
        if len(cmd.args) > 2:
            raise ValueError("QSSLSEND arguments")
        if client is None or client.state != CONNECTED:
            m.ip_error(567)
            return
        m.serial.write(m.prompt)
        data = await (m.serial.read_exact(length, 5.0) if length is not None else self._read_until_ctrl_z())
        if data is None:
            m.ip_error(569)
            return
        if data is ESCAPED:
            m.final("OK")
            return
        if client.state != CONNECTED or client.bridge is None or client.bridge.closed:
            m.ip_error(567)
        elif m.faults.chance("send_fail"):
            m.final("SEND FAIL")
        else:
            m.final(hand_over(client.bridge, data, None, m.network.reachable))

    async def _read_until_ctrl_z(self):
        limit = self.m.profile.max_send

        def complete(inbox):
            for index, byte in enumerate(inbox[:limit + 1]):
                if byte in (CTRL_Z, ESC):
                    return index + 1
            return limit if len(inbox) >= limit else None

        data = await self.m.serial.read_until(complete, 5.0, limit)
        if data is not None and data[-1:] == bytes([ESC]):
            return ESCAPED
        return data[:-1] if data is not None and data[-1:] == bytes([CTRL_Z]) else data

    async def qsslrecv(self, cmd: ATCommand) -> None:
        m = self.m
        client = self._client(cmd)
        if client is None or client.bridge is None:
            m.ip_error(567)
            return
        bridge = client.bridge
        if cmd.int_arg(1) == 0 and len(cmd.args) == 2:  # counters, as TinyGSM reads them (unconfirmed)
            m.reply(f"+QSSLRECV: {bridge.total_received},{bridge.total_read},{client.unread}")
            return
        limit = cmd.number(1, 1, m.profile.max_read)
        if len(cmd.args) != 2 or client.access_mode != BUFFER:
            m.ip_error(552)
            return
        noise = m.faults.noise
        if not client.unread:
            client.armed = True
            m.serial.write(noise(m.BENIGN_URCS) + b"\r\n+QSSLRECV: 0\r\n\r\nOK\r\n")
            return
        data = bridge.read(limit)
        m.serial.write_frame(noise(m.BENIGN_URCS) + b"\r\n+QSSLRECV: %d\r\n" % len(data), data,
                             b"\r\n" + noise(m.BENIGN_URCS) + b"\r\nOK\r\n")

    def _push(self, client: SslClient) -> None:
        m = self.m
        while client.unread:
            data = client.bridge.read(m.profile.max_read)
            head = f'\r\n+QSSLURC: "recv",{client.id},{len(data)}\r\n'.encode()
            m.notice(head, data, b"\r\n" if m.push_crlf else b"")
        pace_to_line(client.bridge, m.uart_side)

    # --- events from the host side ------------------------------------------------------------------
    def on_data(self, client: SslClient) -> None:
        if client.opener is not None or self.clients.get(client.id) is not client or client.bridge is None:
            return  # not announced yet: _open reports it
        if client.access_mode == PUSH:
            self._push(client)
        elif client.armed:
            client.armed = False
            self.m.urc(f'+QSSLURC: "recv",{client.id}')

    def on_closed(self, client: SslClient) -> None:
        if client.opener is not None or self.clients.get(client.id) is not client:
            return
        client.state = CLOSING
        self.m.urc(f'+QSSLURC: "closed",{client.id}')

    # --- closing and state --------------------------------------------------------------------------
    def drop(self, client: SslClient) -> None:
        if client.opener is not None:
            client.opener.cancel()
        if client.bridge is not None:
            client.bridge.close()
        self.clients.pop(client.id, None)

    async def qsslclose(self, cmd: ATCommand) -> None:
        client = self._client(cmd)
        cmd.number(1, 0, 65535, 10)  # seconds to wait for the peer; the host socket closes at once
        if client is None:
            self.m.final(self.m.qiclose_unknown)
            return
        self.drop(client)
        self.m.final("OK")

    async def qsslstate(self, cmd: ATCommand) -> None:
        clients = sorted(self.clients.values(), key=lambda c: c.id)
        if cmd.kind == "write":
            mode = cmd.number(0, 0, 1)
            value = cmd.number(1, 0, CLIENTS - 1) if mode == 1 else cmd.number(1, 1, self.m.profile.contexts)
            clients = [c for c in clients if (c.id if mode == 1 else c.pdp) == value]
        lines = []
        for c in clients:
            state = self.m.connected_state if c.state == CONNECTED else c.state
            # the EG800K log shows <local_port> 0 and <serverID> repeating the client id
            lines.append(f'+QSSLSTATE: {c.id},"SSLClient","{c.remote_ip or c.host}",{c.port},0,{state},{c.pdp},'
                         f'{c.id},{c.access_mode},"uart1",{c.ctx}')
        self.m.reply(*lines)

    def drop_all(self) -> None:
        for client in list(self.clients.values()):
            self.drop(client)

    def drop_context(self, pdp: int) -> None:
        for client in [c for c in self.clients.values() if c.pdp == pdp]:
            self.drop(client)

    def restart(self) -> None:
        """A reboot: clients gone, contexts back to their power-on settings (files stay)."""
        self.drop_all()
        self.contexts = self._power_on_contexts()
