"""The modem's and the sockets' lifecycles, as data for ``transitions`` machines.

The tables are the single source of truth: the code triggers the named events, the docs draw
diagrams from the same tables. Machines are strict (``auto_transitions=False``, no ignored
triggers): an event that is not legal in the current state raises ``MachineError``, which the
callers turn into a clear error instead of silently doing nothing. Callbacks only record the
change; the work itself (AT commands) happens outside the machines.
"""
from typing import Callable, List

from transitions import Machine, MachineError

__all__ = [
    "MODEM_STATES", "MODEM_TRANSITIONS", "SOCKET_STATES", "SOCKET_TRANSITIONS",
    "ModemLifecycle", "SocketLifecycle", "MachineError",
]

MODEM_STATES = [
    "closed",        # port not open
    "syncing",       # port open, waiting for the module to answer AT
    "configuring",   # echo off, numeric errors, dialect settings
    "checking_sim",
    "registering",   # waiting for the network (cellular) or joining Wi-Fi
    "activating",    # bringing up the data context
    "online",        # sockets may be opened
    "recovering",    # lost the module, the network or the port: bring-up runs again, capped
    "closing",
    "failed",        # bring-up or recovery gave up; close() is the way out
]

_BRINGING_UP = ["syncing", "configuring", "checking_sim", "registering", "activating"]

MODEM_TRANSITIONS = [
    {"trigger": "open_port", "source": "closed", "dest": "syncing"},
    {"trigger": "synced", "source": "syncing", "dest": "configuring"},
    {"trigger": "configured", "source": "configuring", "dest": "checking_sim"},
    {"trigger": "sim_ready", "source": "checking_sim", "dest": "registering"},
    {"trigger": "registered", "source": "registering", "dest": "activating"},
    {"trigger": "activated", "source": "activating", "dest": "online"},
    {"trigger": "network_lost", "source": "online", "dest": "registering"},  # the caller left Wi-Fi
    {"trigger": "recover", "source": _BRINGING_UP + ["online"], "dest": "recovering"},
    {"trigger": "retry", "source": "recovering", "dest": "syncing"},
    {"trigger": "fail", "source": _BRINGING_UP + ["online", "recovering"], "dest": "failed"},
    {"trigger": "shut_down", "source": _BRINGING_UP + ["online", "recovering", "failed"], "dest": "closing"},
    {"trigger": "port_closed", "source": "closing", "dest": "closed"},
]

SOCKET_STATES = [
    "fresh",         # created, no modem link yet (may be bound to a local port)
    "connecting",    # open command sent (client, listener or UDP service), waiting for the verdict
    "connected",     # a TCP stream: connected client or accepted connection
    "listening",     # a TCP listener
    "bound",         # a UDP service: datagrams to and from any peer
    "peer_closed",   # the peer finished sending and every byte it sent is in our buffer
    "failed",        # reset or lost; the error is kept for the caller
    "closed",        # released; any call now is EBADF
]

_OPEN = ["connecting", "connected", "listening", "bound", "peer_closed"]

SOCKET_TRANSITIONS = [
    {"trigger": "start_connect", "source": "fresh", "dest": "connecting"},
    {"trigger": "connect_done", "source": "connecting", "dest": "connected"},
    {"trigger": "listen_done", "source": "connecting", "dest": "listening"},
    {"trigger": "bind_done", "source": "connecting", "dest": "bound"},
    {"trigger": "connect_failed", "source": "connecting", "dest": "fresh"},
    {"trigger": "accepted", "source": "fresh", "dest": "connected"},
    {"trigger": "peer_finished", "source": "connected", "dest": "peer_closed"},
    {"trigger": "lose", "source": _OPEN, "dest": "failed"},
    {"trigger": "release", "source": ["fresh", "failed"] + _OPEN, "dest": "closed"},
]


class _Lifecycle:
    """A model object carrying ``state`` and the trigger methods ``transitions`` adds to it."""

    def __init__(self, states, transitions, initial: str):
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
        old, new = event.transition.source, event.transition.dest
        for listener in list(self._listeners):
            listener(old, new)


class ModemLifecycle(_Lifecycle):
    def __init__(self):
        super().__init__(MODEM_STATES, MODEM_TRANSITIONS, "closed")


class SocketLifecycle(_Lifecycle):
    def __init__(self):
        super().__init__(SOCKET_STATES, SOCKET_TRANSITIONS, "fresh")
