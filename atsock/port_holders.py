"""Who else has a serial port open, as far as Linux tells: for the message of a port that is busy.

Every process's open files are links under ``/proc/<pid>/fd``; those that lead to the port's
device are its holders. Processes of other users cannot be looked into without privileges; they
are simply not named. On a Raspberry Pi the usual holder is ModemManager, which probes every new
serial port for a modem.
"""
import os
from typing import List, Tuple

PROC = "/proc"
_HINTS = {
    "ModemManager": "ModemManager probes serial ports for modems: stop it (systemctl stop ModemManager) "
                    "or have it ignore this port (udev property ID_MM_DEVICE_IGNORE=1)",
}


def holders(path: str, proc: str = PROC) -> List[Tuple[int, str]]:
    """``(pid, command name)`` of every process with ``path`` open, this one included."""
    try:
        device = os.path.realpath(path)
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []
    found = []
    for pid in sorted(pids):
        fd_dir = os.path.join(proc, str(pid), "fd")
        try:
            if any(os.readlink(os.path.join(fd_dir, fd)) == device for fd in os.listdir(fd_dir)):
                found.append((pid, _command(proc, pid)))
        except OSError:  # gone meanwhile, or not ours to look into
            continue
    return found


def _command(proc: str, pid: int) -> str:
    try:
        with open(os.path.join(proc, str(pid), "comm")) as comm:
            return comm.read().strip() or "?"
    except OSError:
        return "?"


def describe(path: str, proc: str = PROC) -> str:
    """``"held by ModemManager (pid 512); <hint>"``, or "" when Linux names no one."""
    found = holders(path, proc)
    if not found:
        return ""
    me = os.getpid()
    names = ", ".join("this process" + f" (pid {pid})" if pid == me else f"{name} (pid {pid})" for pid, name in found)
    hints = [hint for name, hint in _HINTS.items() if any(command == name for _, command in found)]
    return "held by " + names + "".join("; " + hint for hint in hints)
