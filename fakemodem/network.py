"""The emulated modules' view of the network: names from a ``hosts`` table, and which addresses
answer. Only loopback addresses are real unless ``allow_outside``, so the emulator never sends
traffic off this machine; addresses in ``blackhole`` never answer, as over a dead route."""
import ipaddress
from typing import Dict, Iterable, List, Optional


class Network:
    def __init__(self, hosts: Optional[Dict[str, object]] = None, blackhole: Iterable[str] = (),
                 allow_outside: bool = False):
        self.hosts = {name.lower(): value for name, value in (hosts or {}).items()}
        self.blackhole = set(blackhole)
        self.allow_outside = allow_outside

    def lookup(self, name: str) -> List[str]:
        """Addresses for ``name`` (an IP literal stands for itself); [] if unknown."""
        try:
            return [str(ipaddress.ip_address(name))]
        except ValueError:
            pass
        found = self.hosts.get(name.lower())
        if found is None:
            return []
        return [found] if isinstance(found, str) else list(found)

    def resolve(self, name: str) -> List[str]:
        """The addresses a connect to ``name`` may use: what :meth:`lookup` finds, less any entry
        of the ``hosts`` table that is not an address (kept there to test malformed DNS answers)."""
        found = []
        for address in self.lookup(name):
            try:
                found.append(str(ipaddress.ip_address(address)))
            except ValueError:
                pass
        return found

    def reachable(self, address: str) -> bool:
        if address in self.blackhole:
            return False
        return self.allow_outside or ipaddress.ip_address(address).is_loopback
