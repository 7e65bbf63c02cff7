"""Quectel "QI" TCP/IP dialect: BG95, BG96, BG77, EC2x, EG2x, EG9x, EC200U.

How the usocket calls map onto the module (see ``shared/at-reference/quectel-tcpip.md``):

=====================  ======================================================================
``getaddrinfo(name)``  ``AT+QIDNSGIP=<ctx>,"<name>"`` -> ``OK``, then ``+QIURC: "dnsgip",...`` URCs
``connect((ip, p))``   ``AT+QIOPEN=<ctx>,<id>,"TCP","<ip>",<p>,0,0`` -> ``OK``, then ``+QIOPEN: <id>,<err>``
``send(data)``         ``AT+QISEND=<id>,<n>`` -> ``> `` -> n bytes -> ``SEND OK`` (n <= 1460 per command)
``recv(n)``            ``+QIURC: "recv",<id>`` -> ``AT+QIRD=<id>,1500`` until ``+QIRD: 0`` (buffer access mode)
peer closes            ``+QIURC: "closed",<id>`` -> drain with QIRD, then end of stream
``close()``            ``AT+QICLOSE=<id>``
=====================  ======================================================================
"""
import asyncio
import errno
import logging
from typing import Dict, List, Optional

from atsock import validate
from atsock.channel import Urc
from atsock.errors import CommandFailed, ModemError, name_error, os_error, timeout_error
from atsock.framing import payload_rule
from atsock.lifecycle import ModemLifecycle
from atsock.link import Link

from .base import Dialect, DrainScheduler, parse_int, split_fields

log = logging.getLogger("atsock.quectel")

MAX_LINKS = 12
QISEND_MAX = 1460
QIRD_MAX = 1500
MAX_DNS_ADDRESSES = 16

# Maximum response times from the application notes (seconds), with a margin where the note's
# figure is the module's own limit.
T_QUERY = 2.0          # plain commands: 300 ms in the notes
T_QIACT = 150.0
T_QIDEACT = 40.0
T_QIOPEN_URC = 150.0
T_QICLOSE = 15.0       # <timeout> default 10 s + margin
T_QISEND = 120.0
T_QIRD = 120.0
T_DNS_URC = 60.0

#: +QIOPEN / dnsgip / QIGETERROR codes (the 550-574 table) as errno values.
ERROR_CODES = {
    550: errno.EIO, 551: errno.EAGAIN, 552: errno.EINVAL, 553: errno.ENOMEM, 554: errno.EMFILE,
    555: errno.EOPNOTSUPP, 556: errno.EADDRINUSE, 557: errno.EADDRINUSE, 558: errno.EIO,
    559: errno.EIO, 560: errno.ECONNABORTED, 561: errno.ENETUNREACH, 562: errno.EIO,
    563: errno.EADDRINUSE, 564: errno.EAGAIN, 565: errno.EHOSTUNREACH, 566: errno.ECONNREFUSED,
    567: errno.ENOTCONN, 568: errno.EBUSY, 569: errno.ETIMEDOUT, 570: errno.ENETDOWN,
    571: errno.ECANCELED, 572: errno.EPERM, 573: errno.ENETUNREACH, 574: errno.EADDRINUSE,
}

ERROR_TEXT = {
    550: "unknown error", 551: "operation blocked", 552: "invalid parameters", 553: "memory not enough",
    554: "socket creation failed", 555: "operation not supported", 556: "socket bind failed",
    557: "socket listen failed", 558: "socket write failed", 559: "socket read failed",
    560: "socket accept failed", 561: "PDP context opening failed", 562: "PDP context closure failed",
    563: "socket identity has been used", 564: "DNS busy", 565: "DNS parse failed",
    566: "socket connect failed", 567: "socket has been closed", 568: "operation busy",
    569: "operation timeout", 570: "PDP context broken down", 571: "cancel sending",
    572: "operation not allowed", 573: "APN not configured", 574: "port busy",
}

AUTH_METHODS = {"none": 0, "pap": 1, "chap": 2}
REGISTERED = (1, 5)  # home, roaming (3GPP 27.007 <stat>)


def quectel_error(code: int) -> OSError:
    return os_error(ERROR_CODES.get(code, errno.EIO), f"modem error {code}: {ERROR_TEXT.get(code, 'unknown')}")


class _DnsQuery:
    """Collects the dnsgip URCs of one lookup: a head with error and count, then the addresses."""

    def __init__(self, future: asyncio.Future):
        self.future = future
        self.expected: Optional[int] = None
        self.addresses: List[str] = []

    def take(self, fields: List[str]) -> None:
        if self.future.done() or len(fields) < 2:
            return
        if self.expected is None:
            error = parse_int(fields[1], 0, 65535)
            if error is None:
                return
            if error != 0:
                self.future.set_result((error, []))
                return
            count = parse_int(fields[2], 0, MAX_DNS_ADDRESSES) if len(fields) > 2 else None
            if count is None:
                self.future.set_exception(os_error(errno.EPROTO, f"bad dnsgip head {fields!r}"))
                return
            self.expected = count
        else:
            address = validate.ip_literal(fields[1])
            if address is not None:
                self.addresses.append(address)
        if self.expected is not None and len(self.addresses) >= self.expected:
            self.future.set_result((0, self.addresses))


class QuectelDialect(Dialect):
    name = "quectel"
    max_links = MAX_LINKS
    urc_prefixes = ("RDY", "APP RDY", "+CFUN:", "+CPIN:", "+QUSIM:", "+QIND:", "POWERED DOWN",
                    "+CREG:", "+CGREG:", "+CEREG:")
    payload_rules = (payload_rule(rb"\+QIRD: (?P<len>\d{1,9})\r\n", QIRD_MAX),)

    def __init__(self, engine, *, apn: str = "", user: str = "", password: str = "", auth: Optional[str] = None,
                 context_id: int = 1, pin: Optional[str] = None, registration_timeout: float = 90.0,
                 registration_poll: float = 1.0, sync_timeout: float = 10.0, **unknown):
        if unknown:
            raise TypeError(f"unknown Quectel settings: {', '.join(sorted(unknown))}")
        super().__init__(engine)
        self.apn = validate.quoted_field(apn, "APN", 62)
        self.user = validate.quoted_field(user, "user name", 64)
        self.password = validate.quoted_field(password, "password", 64)
        auth = auth or ("pap" if user or password else "none")
        if auth not in AUTH_METHODS:
            raise ValueError(f"auth must be one of {', '.join(AUTH_METHODS)}, not {auth!r}")
        self.auth = AUTH_METHODS[auth]
        if not (isinstance(context_id, int) and 1 <= context_id <= 16):
            raise ValueError("context_id must be an int in 1..16")
        self.ctx = context_id
        if pin is not None and not (isinstance(pin, str) and pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValueError("pin must be 4 to 8 digits")
        self.pin = pin
        self.registration_timeout = registration_timeout
        self.registration_poll = registration_poll
        self.sync_timeout = sync_timeout
        self.online = False
        self._open_waiters: Dict[int, asyncio.Future] = {}
        self._dns_lock = asyncio.Lock()
        self._dns: Optional[_DnsQuery] = None
        self._drains = DrainScheduler(self._fetch)
        engine.on_urc("+QIOPEN:", self._on_qiopen)
        engine.on_urc("+QIURC:", self._on_qiurc)
        engine.on_urc("RDY", self._on_reboot)
        for prefix in self.urc_prefixes:
            if prefix != "RDY":
                engine.on_urc(prefix, self._on_status)

    # --- bring-up -------------------------------------------------------------------------------
    async def bring_up(self, life: ModemLifecycle) -> None:
        e = self.engine
        await e.sync(attempts=max(1, int(self.sync_timeout / 0.5)), timeout=0.5)
        life.synced()
        await e.command("ATE0", timeout=T_QUERY)
        await e.command("AT+CMEE=1", timeout=T_QUERY)
        await e.command("AT+QISDE=0", timeout=T_QUERY, check=False)  # no payload echo; older firmware lacks it
        life.configured()
        await self._wait_for_sim()
        life.sim_ready()
        await self._wait_for_registration()
        life.registered()
        await self._activate_context()
        await self._close_stale_links()
        self.online = True
        life.activated()

    async def _wait_for_sim(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20.0  # SIM initialisation after boot, per Quectel's process note
        while True:
            try:
                response = await self.engine.command("AT+CPIN?", timeout=5.0, response_prefixes=("+CPIN:",))
            except CommandFailed as exc:
                if exc.code == 10:
                    raise ModemError(errno.ENODEV, "no SIM card inserted") from None
                if loop.time() > deadline:
                    raise ModemError(errno.ENODEV, f"SIM not ready: {exc.final}") from None
                await asyncio.sleep(1.0)
                continue
            status = (response.values("+CPIN:") or [""])[0]
            if status == "READY":
                return
            if status == "SIM PIN" and self.pin:
                await self.engine.command(f'AT+CPIN="{self.pin}"', timeout=5.0)
                continue
            if status in ("SIM PIN", "SIM PUK"):
                raise ModemError(errno.EACCES, f"SIM is locked ({status}); pass pin=... to open_modem")
            if loop.time() > deadline:
                raise ModemError(errno.ENODEV, f"SIM not ready: {status!r}")
            await asyncio.sleep(1.0)

    async def _wait_for_registration(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.registration_timeout
        queries = ["AT+CEREG?", "AT+CGREG?", "AT+CREG?"]
        last = {}
        while True:
            for query in list(queries):
                prefix = query[2:-1] + ":"
                try:
                    response = await self.engine.command(query, timeout=T_QUERY, response_prefixes=(prefix,))
                except CommandFailed:
                    queries.remove(query)  # this module has no such registration report
                    continue
                fields = split_fields((response.values(prefix) or [""])[0])
                stat = parse_int(fields[1], 0, 10) if len(fields) > 1 else None
                last[query] = stat
                if stat in REGISTERED:
                    return
            if not queries:
                raise ModemError(errno.ENODEV, "module answers no registration query")
            if loop.time() > deadline:
                denied = 3 in last.values()
                raise ModemError(errno.ENETUNREACH,
                                 "registration denied by the network" if denied else
                                 f"not registered within {self.registration_timeout:g} s ({last})")
            await asyncio.sleep(self.registration_poll)

    async def _activate_context(self) -> None:
        e = self.engine
        auth_part = f',"{self.user}","{self.password}",{self.auth}'
        await e.command(f'AT+QICSGP={self.ctx},1,"{self.apn}"{auth_part}', timeout=T_QUERY)
        if await self._context_address() is None:
            try:
                await e.command(f"AT+QIACT={self.ctx}", timeout=T_QIACT)
            except CommandFailed as exc:
                raise ModemError(errno.ENETUNREACH, f"data context {self.ctx} could not be activated "
                                                    f"(APN {self.apn!r}): {exc.final}") from None
            self.local_ip = await self._context_address()
            if self.local_ip is None:
                raise ModemError(errno.ENETUNREACH, f"data context {self.ctx} not active after AT+QIACT")

    async def _context_address(self) -> Optional[str]:
        response = await self.engine.command("AT+QIACT?", timeout=T_QUERY, response_prefixes=("+QIACT:",))
        for value in response.values("+QIACT:"):
            fields = split_fields(value)
            if len(fields) >= 2 and parse_int(fields[0], 0, 16) == self.ctx and fields[1] == "1":
                self.local_ip = fields[3] if len(fields) > 3 else ""
                return self.local_ip
        return None

    async def _close_stale_links(self) -> None:
        """Sockets an earlier host process left open would hold connectIDs forever."""
        response = await self.engine.command("AT+QISTATE?", timeout=T_QUERY, response_prefixes=("+QISTATE:",))
        for value in response.values("+QISTATE:"):
            link_id = parse_int(split_fields(value)[0], 0, MAX_LINKS - 1)
            if link_id is not None and link_id not in self.engine.links:
                log.info("closing connectID %d left open by an earlier session", link_id)
                await self.engine.command(f"AT+QICLOSE={link_id}", timeout=T_QICLOSE, check=False)

    # --- DNS ------------------------------------------------------------------------------------
    async def resolve(self, host: str) -> List[str]:
        host = validate.hostname(host)
        async with self._dns_lock:  # the module runs one lookup at a time (564 "DNS busy")
            future = asyncio.get_running_loop().create_future()
            self._dns = _DnsQuery(future)
            try:
                await self.engine.command(f'AT+QIDNSGIP={self.ctx},"{host}"', timeout=T_QUERY)
                error, addresses = await asyncio.wait_for(future, T_DNS_URC)
            except asyncio.TimeoutError:
                raise timeout_error(f"no DNS answer for {host!r}") from None
            finally:
                self._dns = None
        if error in (565,) or (error == 0 and not addresses):
            raise name_error(host)
        if error:
            raise quectel_error(error)
        return addresses

    # --- TCP client -----------------------------------------------------------------------------
    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float]) -> None:
        link_id = self.allocate_id()
        self.register(link, link_id)
        link.life.start_connect()
        waiter = asyncio.get_running_loop().create_future()
        self._open_waiters[link_id] = waiter
        budget = T_QIOPEN_URC if timeout is None else min(timeout, T_QIOPEN_URC)
        try:
            await self.engine.command(f'AT+QIOPEN={self.ctx},{link_id},"TCP","{ip}",{port},0,0', timeout=T_QUERY)
            error = await asyncio.wait_for(waiter, budget)
        except asyncio.TimeoutError:
            await self._abandon_open(link)
            raise timeout_error(f"connect to {ip}:{port} timed out") from None
        except BaseException:
            await self._abandon_open(link)
            raise
        finally:
            self._open_waiters.pop(link_id, None)
        if error != 0:
            await self._abandon_open(link)
            raise quectel_error(error)
        link.remote = (ip, port)
        link.life.connect_done()

    async def _abandon_open(self, link: Link) -> None:
        """A failed or abandoned QIOPEN may still hold the connectID; free it before reuse."""
        try:
            await self.engine.command(f"AT+QICLOSE={link.id}", timeout=T_QICLOSE, check=False)
        finally:
            self.unregister(link)
            link.id = None
            if link.life.can("connect_failed"):
                link.life.connect_failed()

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        view = memoryview(data)
        sent = 0
        backoff = 0.02
        while sent < len(view):
            chunk = bytes(view[sent:sent + QISEND_MAX])
            response = await self.engine.command(
                f"AT+QISEND={link.id},{len(chunk)}", payload=chunk, timeout=T_QISEND,
                extra_finals=frozenset({"SEND OK", "SEND FAIL"}), check=False)
            final = response.final.text
            if final == "SEND OK":
                sent += len(chunk)
                backoff = 0.02
                continue
            if final == "SEND FAIL":  # the module's send buffer is full: wait, try the same chunk again
                if deadline is not None and loop.time() + backoff > deadline:
                    if sent:
                        return sent
                    raise timeout_error("modem send buffer stayed full")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            error = os_error(errno.ECONNRESET, f"modem refused to send ({final})")
            link.fail(error)
            if sent:
                return sent
            raise error
        return sent

    async def _fetch(self, link: Link) -> bytes:
        response = await self.engine.command(
            f"AT+QIRD={link.id},{QIRD_MAX}", timeout=T_QIRD, response_prefixes=("+QIRD:",), check=False)
        if not response.final.ok:
            raise os_error(errno.ECONNRESET, f"modem cannot read connectID {link.id} ({response.final.text})")
        line = response.first("+QIRD:")
        if line is None or line.data is None:
            raise os_error(errno.EPROTO, f"AT+QIRD answered without a +QIRD header: {response.lines!r}")
        return line.data

    async def close_link(self, link: Link) -> None:
        try:
            if link.id is not None and self.engine.gone is None:
                await self.engine.command(f"AT+QICLOSE={link.id}", timeout=T_QICLOSE, check=False)
        finally:
            self.unregister(link)
            link.release()

    # --- URCs -----------------------------------------------------------------------------------
    def _on_qiopen(self, urc: Urc) -> None:
        fields = split_fields(urc.text[len("+QIOPEN:"):])
        link_id = parse_int(fields[0], 0, MAX_LINKS - 1)
        error = parse_int(fields[1], 0, 65535) if len(fields) > 1 else None
        waiter = self._open_waiters.get(link_id) if link_id is not None else None
        if waiter is None or error is None:
            log.warning("unexpected %r", urc.text)
        elif not waiter.done():
            waiter.set_result(error)

    def _on_qiurc(self, urc: Urc) -> None:
        fields = split_fields(urc.text[len("+QIURC:"):])
        kind = fields[0]
        if kind == "dnsgip":
            if self._dns is not None:
                self._dns.take(fields)
            return
        link = self.link_for(parse_int(fields[1], 0, MAX_LINKS - 1)) if len(fields) > 1 else None
        if kind == "recv" and link is not None:
            self._drains.request(link)
        elif kind == "closed" and link is not None:
            self._drains.request(link, peer_finished=True)
        elif kind == "pdpdeact":
            self.online = False
            self.fail_all(errno.ENETDOWN, "the network deactivated the data context")
        else:
            log.info("unhandled %r", urc.text)

    def _on_reboot(self, urc: Urc) -> None:
        if self.online:
            log.warning("modem restarted (RDY): its sockets are gone")
            self.online = False
            self.fail_all(errno.ECONNRESET, "modem restarted")

    def _on_status(self, urc: Urc) -> None:
        log.info("modem status: %s", urc.text)
