"""The lifecycle machines are strict: an event illegal in the current state raises, never no-ops."""
import pytest

from atsock.core.lifecycle import MachineError, ModemLifecycle, SocketLifecycle


def test_modem_bring_up_path_and_listeners():
    life = ModemLifecycle()
    seen = []
    life.add_listener(lambda old, new: seen.append((old, new)))
    for trigger in ("open_port", "synced", "configured", "sim_ready", "registered", "activated"):
        getattr(life, trigger)()
    assert life.state == "online"
    assert seen[-1] == ("activating", "online")
    assert len(seen) == 6


def test_modem_cannot_skip_bring_up():
    life = ModemLifecycle()
    with pytest.raises(MachineError):
        life.activated()
    assert life.state == "closed"
    life.open_port()
    with pytest.raises(MachineError):
        life.registered()
    life.fail()
    assert life.state == "failed"
    assert not life.can("activated")
    life.shut_down()
    life.port_closed()
    assert life.state == "closed"


def test_socket_paths():
    sock = SocketLifecycle()
    with pytest.raises(MachineError):
        sock.connect_done()
    sock.start_open()
    sock.open_failed()
    assert sock.state == "fresh"  # a refused connect may be retried
    sock.start_open()
    sock.connect_done()
    sock.peer_finished()
    sock.release()
    assert sock.state == "closed"
    with pytest.raises(MachineError):
        sock.start_open()
    with pytest.raises(MachineError):
        sock.release()
