"""The module's connection ids, and who holds each one.

An id is *free* only once the module has confirmed it let go of it: its close command was
answered, the module reported the connection closed and gone, or the module restarted. Between the
moment a socket gives an id up and that confirmation the id is *retired*: notices the module sends
for it then belong to the connection that ended, and are dropped rather than applied to the next
socket that would get the same id.
"""
import errno
from typing import Dict, Iterable, List, Optional

from ..errors import os_error


class Retired:
    """Holds an id whose release the module has not confirmed yet."""

    def __init__(self, slot_id: int, kind):
        self.id = slot_id
        self.kind = kind
        self.settling = False  # its release exchange is under way

    def __repr__(self) -> str:
        return f"<retired id {self.id}>"


class Slots:
    def __init__(self, count: int):
        self.count = count
        self._holders: Dict[int, object] = {}

    def reserve(self, connection) -> int:
        """The lowest free id, now held by ``connection``; EMFILE when every id is held."""
        for slot_id in range(self.count):
            if slot_id not in self._holders:
                self._holders[slot_id] = connection
                connection.id = slot_id
                return slot_id
        raise os_error(errno.EMFILE, f"all {self.count} sockets of the modem are in use")

    def adopt(self, slot_id: int, connection) -> None:
        """The module chose the id (an accepted client): it is free on the module's side."""
        self._holders[slot_id] = connection
        connection.id = slot_id

    def holder(self, slot_id: Optional[int]):
        return None if slot_id is None else self._holders.get(slot_id)

    def owner(self, slot_id: Optional[int]):
        """The live connection holding ``slot_id``; None if the id is free or retired."""
        holder = self.holder(slot_id)
        return None if holder is None or isinstance(holder, Retired) else holder

    def retire(self, connection) -> Optional[Retired]:
        """``connection`` gives its id up; the id stays held until :meth:`free`."""
        slot_id = connection.id
        connection.id = None
        if slot_id is None or self._holders.get(slot_id) is not connection:
            return None
        retired = Retired(slot_id, connection.kind)
        self._holders[slot_id] = retired
        return retired

    def free(self, holder) -> None:
        """The module confirmed ``holder``'s id (a connection or a retired one) is free."""
        slot_id = holder.id
        if slot_id is not None and self._holders.get(slot_id) is holder:
            del self._holders[slot_id]
        if not isinstance(holder, Retired):
            holder.id = None

    def retired(self) -> List[Retired]:
        return [h for h in self._holders.values() if isinstance(h, Retired)]

    def connections(self) -> List[object]:
        return [h for h in self._holders.values() if not isinstance(h, Retired)]

    def held_ids(self) -> Iterable[int]:
        return sorted(self._holders)

    def clear(self) -> List[object]:
        """The module lost every connection (restart, port gone): all ids are free."""
        live = self.connections()
        for holder in live:
            holder.id = None
        self._holders.clear()
        return live
