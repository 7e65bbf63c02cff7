"""Who else has a serial port open, as far as Linux tells: for the message of a port that is busy.

Every process's open files are links under ``/proc/<pid>/fd``; those that lead to the port's
device are its holders. Processes of other users cannot be looked into without privileges; they
are simply not named. On a Raspberry Pi the usual holder is ModemManager, which probes every new
serial port for a modem.
"""
import os
from typing import Dict, List, Optional, Tuple

PROC = "/proc"
_HINTS = {
    "ModemManager": "ModemManager probes serial ports for modems: stop it (systemctl stop ModemManager) "
                    "or have it ignore this port (udev property ID_MM_DEVICE_IGNORE=1)",
}


def _pids(proc: str) -> List[int]:
    try:
        return sorted(int(name) for name in os.listdir(proc) if name.isdigit())
    except OSError:
        return []


def holders(path: str, proc: str = PROC) -> List[Tuple[int, str]]:
    """``(pid, command name)`` of every process with ``path`` open, this one included.

    The process behind a pty (an emulator such as ``python -m fakemodem``) holds its master side
    and keeps one descriptor of the port itself: only descriptors beyond that one make it a user."""
    device = os.path.realpath(path)
    found = []
    for pid in _pids(proc):
        targets = _open_files(os.path.join(proc, str(pid), "fd"))
        own = any(target.endswith("/ptmx") and _pty_of(proc, pid, fd) == device for fd, target in targets.items())
        if list(targets.values()).count(device) > own:
            found.append((pid, _command(proc, pid)))
    return found


def _open_files(fd_dir: str) -> Dict[str, str]:
    """descriptor -> what it leads to; {} for a process gone meanwhile or not ours to look into."""
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return {}
    targets = {}
    for fd in fds:
        try:
            targets[fd] = os.readlink(os.path.join(fd_dir, fd))
        except OSError:  # closed meanwhile (such as the descriptor listdir itself used)
            continue
    return targets


def running(name: str, proc: str = PROC) -> List[int]:
    """The pids of the processes called ``name`` (ModemManager, say) that Linux shows us."""
    return [pid for pid in _pids(proc) if _command(proc, pid) == name]


def _pty_of(proc: str, pid: int, fd: str) -> Optional[str]:
    """The pty a ``/dev/ptmx`` descriptor is the master of (Linux shows its number in fdinfo)."""
    try:
        with open(os.path.join(proc, str(pid), "fdinfo", fd)) as info:
            for line in info:
                if line.startswith("tty-index:"):
                    return "/dev/pts/" + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


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
