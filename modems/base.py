"""What every dialect provides to the engine and the socket layer, and helpers they share.

A dialect turns socket operations into its module's AT commands and the module's URCs into
changes of :class:`~atsock.link.Link` objects. All its coroutines run on the engine's loop.
"""
import asyncio
import errno
import logging
from typing import Callable, Dict, List, Optional, Sequence

from atsock.engine import Engine
from atsock.errors import CommandTimeout, os_error
from atsock.framing import PayloadRule
from atsock.lifecycle import ModemLifecycle
from atsock.link import HIGH_WATER, Link

log = logging.getLogger("atsock.dialect")


def split_fields(text: str) -> List[str]:
    """``1,"TCP","1.2.3.4",80`` -> ``['1', 'TCP', '1.2.3.4', '80']``: commas inside quotes are kept."""
    fields, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    fields.append("".join(current).strip())
    return fields


def parse_int(text: str, low: int, high: int) -> Optional[int]:
    """An integer field from the modem, or None when it is not one or out of range."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def check_timeouts(timeouts: Optional[dict], names) -> dict:
    """A dialect's ``timeouts`` setting: known names, positive seconds."""
    timeouts = dict(timeouts or {})
    for name, seconds in timeouts.items():
        if name not in names or not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"timeouts takes {', '.join(names)} in seconds, not {name!r}: {seconds!r}")
    return timeouts


class Dialect:
    name = "abstract"
    max_links = 0
    urc_prefixes: Sequence[str] = ()
    payload_rules: Sequence[PayloadRule] = ()
    command_terminator = b"\r"  # S3; ESP-AT insists on CR LF

    def __init__(self, engine: Engine):
        self.engine = engine
        self.local_ip: Optional[str] = None
        self.online = False
        self.on_trouble: Optional[Callable[[str], None]] = None  # set by the Modem: starts a recovery
        engine.on_gone(self._on_port_gone)

    # --- to implement -------------------------------------------------------------------------
    max_datagram = 0

    async def bring_up(self, life: ModemLifecycle) -> None:
        raise NotImplementedError

    async def resolve(self, host: str) -> List[str]:
        raise NotImplementedError

    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float], local_port: int = 0) -> None:
        """Open a TCP client link; raises OSError with the modem's verdict."""
        raise NotImplementedError

    async def listen(self, link: Link, local_port: int, backlog: int) -> None:
        raise NotImplementedError

    async def open_udp(self, link: Link, local_port: int, peer=None) -> None:
        """Open a UDP link on ``local_port``; ``peer`` is the first destination, if one is known."""
        raise NotImplementedError

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        raise NotImplementedError

    async def sendto(self, link: Link, data: bytes, ip: str, port: int, timeout: Optional[float]) -> int:
        raise NotImplementedError

    async def close_link(self, link: Link) -> None:
        raise NotImplementedError

    async def shut_down(self) -> None:
        for link in list(self.engine.links.values()):
            try:
                await self.close_link(link)
            except Exception as exc:
                log.warning("closing link %s at shut-down failed: %s", link.id, exc)

    # --- shared bookkeeping -------------------------------------------------------------------
    def allocate_id(self) -> int:
        for link_id in range(self.max_links):
            if link_id not in self.engine.links:
                return link_id
        raise os_error(errno.EMFILE, f"all {self.max_links} sockets of the modem are in use")

    def register(self, link: Link, link_id: int) -> None:
        link.id = link_id
        self.engine.links[link_id] = link

    def unregister(self, link: Link) -> None:
        if link.id is not None and self.engine.links.get(link.id) is link:
            del self.engine.links[link.id]

    def link_for(self, link_id: Optional[int]) -> Optional[Link]:
        if link_id is None:
            return None
        return self.engine.links.get(link_id)

    def fail_all(self, code: int, reason: str) -> None:
        for link in list(self.engine.links.values()):
            link.fail(os_error(code, reason))

    def trouble(self, kind: str, code: int, reason: str, keep_links: bool = False) -> None:
        """The module, its network or the port went away. Sockets that cannot survive it fail with
        ``code`` and let go of their ids (the module no longer has them); then recovery starts."""
        log.warning("%s: %s", kind, reason)
        self.online = False
        if not keep_links:
            for link in list(self.engine.links.values()):
                link.fail(os_error(code, reason))
                self.unregister(link)
                link.id = None
            self.forget_links()
        if self.on_trouble is not None:
            self.on_trouble(kind)

    def forget_links(self) -> None:
        """Dialect state about links that a trouble ended (a server, pending opens...)."""

    def _on_port_gone(self) -> None:
        self.trouble("port_lost", errno.EIO, "serial port closed")


class DrainScheduler:
    """Runs at most one fetch loop per link, re-armed by every 'data waiting' notice.

    Modems announce received data with an edge-triggered notice and then wait for the host to
    fetch until the buffer is empty. ``request(link)`` records that the modem holds data; the loop
    fetches until the modem reports nothing left and starts over if another notice came meanwhile,
    so the last fetch always began after the last notice. A peer's FIN becomes end-of-stream only
    after such a complete pass — every byte the peer sent is delivered before ``recv`` returns b"".
    Above ``HIGH_WATER`` buffered bytes the loop waits for the reader (back-pressure).
    """

    def __init__(self, fetch):
        self._fetch = fetch  # async fetch(link) -> bool: delivered something (False: modem has nothing left)
        self._running: Dict[Link, asyncio.Task] = {}

    def request(self, link: Link, peer_finished: bool = False) -> None:
        link.modem_has_data = True
        if peer_finished:
            link.peer_fin = True
        if link not in self._running:
            self._running[link] = asyncio.ensure_future(self._drain(link))

    async def _drain(self, link: Link) -> None:
        try:
            while link.modem_has_data and link.error is None:
                link.modem_has_data = False
                while link.error is None:
                    if link.buffered >= HIGH_WATER:
                        await link.wait_for_room()
                        continue
                    if not await self._fetch(link):
                        break
            if link.peer_fin and link.error is None:
                link.finish()
        except OSError as exc:
            link.fail(exc)
        except CommandTimeout as exc:
            log.warning("fetching data for link %s timed out: %s", link.id, exc)
            link.fail(os_error(errno.ETIMEDOUT, f"the modem did not hand over received data: {exc}"))
        except Exception as exc:
            log.warning("fetching data for link %s failed: %s", link.id, exc)
            link.fail(os_error(errno.EIO, f"fetching received data failed: {exc}"))
        finally:
            self._running.pop(link, None)
