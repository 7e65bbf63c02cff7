"""Name lookups with AT+QIDNSGIP: ``OK`` at once, the answer later as ``dnsgip`` URCs."""
import asyncio
from typing import List, Optional

from atsock.wire import atcmd
from atsock.core import validate
from atsock.errors import dns_answer_error, name_error, timeout_error
from atsock.wire.fields import parse_int
from . import cause
from .codes import T_DNS_URC, T_QUERY, quectel_error

MAX_ADDRESSES = 16


class _Lookup:
    """Collects the URCs of one lookup: a head with error and count, then the addresses."""

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
                if validate.ip_literal(fields[1]) is None:  # (an address: a late line of an earlier lookup)
                    self.future.set_exception(dns_answer_error(f"dnsgip head {fields[1:]!r}"))
                return
            if error != 0:
                self.future.set_result((error, []))
                return
            count = parse_int(fields[2], 0, MAX_ADDRESSES) if len(fields) > 2 else None
            if count is None:
                self.future.set_exception(dns_answer_error(f"dnsgip head {fields[1:]!r}"))
                return
            self.expected = count
        else:
            address = validate.ip_literal(fields[1])
            if address is None:
                self.future.set_exception(dns_answer_error(repr(fields[1])))
                return
            self.addresses.append(address)
        if self.expected is not None and len(self.addresses) >= self.expected:
            self.future.set_result((0, self.addresses))


class Resolver:
    def __init__(self, engine, context_id: int):
        self.engine = engine
        self.ctx = atcmd.number(context_id, 1, 16, "context id")
        self._lock = asyncio.Lock()  # the module runs one lookup at a time (564 "DNS busy")
        self._current: Optional[_Lookup] = None

    def on_dnsgip(self, fields: List[str]) -> None:
        if self._current is not None:
            self._current.take(fields)

    async def resolve(self, host: str) -> List[str]:
        host = validate.hostname(host)
        async with self._lock:
            future = asyncio.get_running_loop().create_future()
            self._current = _Lookup(future)
            try:
                response = await self.engine.command(
                    atcmd.build("AT+QIDNSGIP", self.ctx, atcmd.text(host, "host name", 253)), timeout=T_QUERY,
                    check=False)
                if not response.final.ok:  # refused outright (no context, a lookup running): the module keeps why
                    raise await cause.failure(self.engine, "AT+QIDNSGIP", response.final)
                error, addresses = await asyncio.wait_for(future, T_DNS_URC)
            except asyncio.TimeoutError:
                raise timeout_error(f"no DNS answer for {host!r}") from None
            finally:
                self._current = None
        if error == 565 or (error == 0 and not addresses):
            raise name_error(host)
        if error:
            raise quectel_error(error)
        return addresses
