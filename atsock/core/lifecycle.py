"""The modem's and the connections' lifecycles, as data for ``transitions`` machines.

The tables are the single source of truth: the code triggers the named events and asks the
machines before it acts, and the docs draw diagrams from the same tables. Machines are strict
(``auto_transitions=False``, no ignored triggers): an event that is not legal in the current state
raises ``MachineError``.

Besides the events that change state, the connection machine carries *operations* (``send``,
``receive``, ``accept``...) as internal transitions: they change nothing, but they are legal only
in the states listed, so the socket core asks the machine (``life.allows(Op.SEND)``) instead of
keeping its own list of which state permits what.
"""
from enum import Enum
from typing import Callable, List

from transitions import Machine, MachineError

__all__ = [
    "ModemState", "SocketState", "Op", "MODEM_TRANSITIONS", "SOCKET_TRANSITIONS", "SOCKET_OPERATIONS",
    "ModemLifecycle", "SocketLifecycle", "MachineError",
]


class ModemState(str, Enum):
    CLOSED = "closed"            # port not open
    SYNCING = "syncing"          # port open, waiting for the module to answer AT
    CONFIGURING = "configuring"  # echo off, numeric errors, dialect settings
    CHECKING_SIM = "checking_sim"
    REGISTERING = "registering"  # waiting for the network (cellular) or joining Wi-Fi
    ACTIVATING = "activating"    # bringing up the data context
    ONLINE = "online"            # sockets may be opened
    RECOVERING = "recovering"    # lost the module, the network or the port: bring-up runs again, capped
    CLOSING = "closing"
    FAILED = "failed"            # bring-up or recovery gave up; close() is the way out

    def __str__(self) -> str:
        return self.value


class SocketState(str, Enum):
    FRESH = "fresh"              # created, no modem connection yet (may be bound to a local port)
    OPENING = "connecting"       # open command sent (client, listener or UDP service), verdict pending
    CONNECTED = "connected"      # a TCP stream: connected client or accepted connection
    LISTENING = "listening"      # a TCP listener
    BOUND = "bound"              # a UDP service: datagrams to and from any peer
    PEER_CLOSED = "peer_closed"  # the peer finished sending and every byte it sent is in our buffer
    FAILED = "failed"            # reset or lost; the error is kept for the caller
    CLOSED = "closed"            # released by the caller; any call now is EBADF

    def __str__(self) -> str:
        return self.value


class Op(str, Enum):
    """Operations a connection allows only in some states (internal transitions of its machine)."""

    SEND = "send"            # write stream data or a datagram
    RECEIVE = "receive"      # take buffered data (or the pending error, or end of stream)
    ACCEPT = "accept"        # take a queued incoming connection
    DELIVER = "deliver"      # the module hands over received data
    FETCH = "fetch"          # ask the module for data it holds


M, S = ModemState, SocketState
_BRINGING_UP = [M.SYNCING, M.CONFIGURING, M.CHECKING_SIM, M.REGISTERING, M.ACTIVATING]

MODEM_TRANSITIONS = [
    {"trigger": "open_port", "source": M.CLOSED, "dest": M.SYNCING},
    {"trigger": "synced", "source": M.SYNCING, "dest": M.CONFIGURING},
    {"trigger": "configured", "source": M.CONFIGURING, "dest": M.CHECKING_SIM},
    {"trigger": "sim_ready", "source": M.CHECKING_SIM, "dest": M.REGISTERING},
    {"trigger": "registered", "source": M.REGISTERING, "dest": M.ACTIVATING},
    {"trigger": "activated", "source": M.ACTIVATING, "dest": M.ONLINE},
    {"trigger": "network_lost", "source": M.ONLINE, "dest": M.REGISTERING},  # the caller left Wi-Fi
    {"trigger": "recover", "source": _BRINGING_UP + [M.ONLINE], "dest": M.RECOVERING},
    {"trigger": "retry", "source": M.RECOVERING, "dest": M.SYNCING},
    {"trigger": "fail", "source": _BRINGING_UP + [M.ONLINE, M.RECOVERING], "dest": M.FAILED},
    {"trigger": "shut_down", "source": _BRINGING_UP + [M.ONLINE, M.RECOVERING, M.FAILED], "dest": M.CLOSING},
    {"trigger": "port_closed", "source": M.CLOSING, "dest": M.CLOSED},
]

_OPEN = [S.OPENING, S.CONNECTED, S.LISTENING, S.BOUND, S.PEER_CLOSED]

SOCKET_TRANSITIONS = [
    {"trigger": "start_open", "source": S.FRESH, "dest": S.OPENING},
    {"trigger": "connect_done", "source": S.OPENING, "dest": S.CONNECTED},
    {"trigger": "listen_done", "source": S.OPENING, "dest": S.LISTENING},
    {"trigger": "bind_done", "source": S.OPENING, "dest": S.BOUND},
    {"trigger": "open_failed", "source": S.OPENING, "dest": S.FRESH},
    {"trigger": "accepted", "source": S.FRESH, "dest": S.CONNECTED},
    {"trigger": "peer_finished", "source": S.CONNECTED, "dest": S.PEER_CLOSED},
    {"trigger": "lose", "source": _OPEN, "dest": S.FAILED},
    {"trigger": "release", "source": [S.FRESH, S.FAILED] + _OPEN, "dest": S.CLOSED},
]

#: operation -> states in which it is legal
SOCKET_OPERATIONS = {
    Op.SEND: [S.CONNECTED, S.BOUND],
    Op.RECEIVE: [S.CONNECTED, S.BOUND, S.PEER_CLOSED, S.FAILED],
    Op.ACCEPT: [S.LISTENING, S.FAILED],
    Op.DELIVER: [S.OPENING, S.CONNECTED, S.BOUND],
    Op.FETCH: [S.CONNECTED, S.BOUND],
}


class _Lifecycle:
    """A model object carrying ``state`` and the trigger methods ``transitions`` adds to it."""

    def __init__(self, states, transitions, initial):
        self._listeners: List[Callable[[str, str], None]] = []
        self.machine = Machine(
            model=self, states=states, transitions=transitions, initial=initial,
            auto_transitions=False, queued=True, send_event=True,
            after_state_change="_notify",
        )

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """``listener(old_state, new_state)`` after every change."""
        self._listeners.append(listener)

    def can(self, trigger: str) -> bool:
        return trigger in self.machine.get_triggers(self.state)

    def _notify(self, event) -> None:
        if event.transition.dest is None:
            return  # an operation, not a change
        old = self.machine.get_state(event.transition.source).value
        new = self.machine.get_state(event.transition.dest).value
        for listener in list(self._listeners):
            listener(old, new)


class ModemLifecycle(_Lifecycle):
    def __init__(self):
        super().__init__(ModemState, MODEM_TRANSITIONS, ModemState.CLOSED)


def _operation_transitions():
    return [{"trigger": op.value, "source": states, "dest": None} for op, states in SOCKET_OPERATIONS.items()]


#: the same table as sets, for the question every chunk of a send asks (the machine's own
#: answer walks all its events)
_ALLOWED = {op: frozenset(states) for op, states in SOCKET_OPERATIONS.items()}


class SocketLifecycle(_Lifecycle):
    def __init__(self):
        super().__init__(SocketState, SOCKET_TRANSITIONS + _operation_transitions(), SocketState.FRESH)

    def allows(self, op: Op) -> bool:
        return self.state in _ALLOWED[op]
