"""CPU control groups for the capped benchmark: a quota for atsock's process, a weight for its helpers.

Linux offers the same two knobs under two interfaces: cgroup v1's ``cpu`` controller
(``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ``cpu.shares``) and v2's unified hierarchy (``cpu.max``,
``cpu.weight``). ``Group.make`` uses whichever this machine mounts (it needs root). A share is
1 ms of CPU per period of 1 ms / share: a slow CPU is then a steady slowdown, never a freeze long
enough for a UART's buffer to overflow.
"""
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
QUOTA_US = 1000    # CPU per period: the smallest quota the kernel takes
HIGH_WEIGHT = 50   # × a default task's weight: the benchmark's processes ahead of other work on the machine
RT_RUNTIME_US = 500_000  # per second and CPU: what real-time tasks of a group may take before the kernel stops them


def available() -> Optional[str]:
    """Why a capped run cannot be made here, or None if it can."""
    if os.geteuid() != 0:
        return "CPU quotas need root"
    if (V1 / "cpu.cfs_quota_us").exists() or "cpu" in _v2_controllers():
        return None
    return "no cgroup cpu controller mounted"


def _v2_controllers() -> list:
    try:
        return (V2 / "cgroup.controllers").read_text().split()
    except OSError:
        return []


class Group:
    def __init__(self, path, v2: bool):
        self.path, self.v2 = Path(path), v2

    @classmethod
    def make(cls, name: str, parent: Optional["Group"] = None) -> "Group":
        v2 = parent.v2 if parent else not (V1 / "cpu.cfs_quota_us").exists()
        base = parent.path if parent else (V2 if v2 else V1)
        if v2 and "cpu" not in (base / "cgroup.subtree_control").read_text().split():
            (base / "cgroup.subtree_control").write_text("+cpu")
        path = base / name
        path.mkdir(exist_ok=True)
        return cls(path, v2)

    def _write(self, name: str, value) -> None:
        (self.path / name).write_text(f"{value}\n")

    def weigh(self, factor: int) -> None:
        """``factor`` times a default task's CPU weight."""
        if self.v2:
            self._write("cpu.weight", min(10000, 100 * factor))
        else:
            self._write("cpu.shares", 1024 * factor)

    def allow_realtime(self) -> bool:
        """Let real-time tasks into the group (cgroup v1's ``cpu.rt_runtime_us``), at most half of
        each CPU; False where the kernel does not group them so (v2)."""
        try:
            self._write("cpu.rt_runtime_us", RT_RUNTIME_US)
            return True
        except OSError:
            return False

    def cap(self, share: Optional[float]) -> None:
        """At most ``share`` of one CPU (None: no cap), in 1 ms slices."""
        period = int(QUOTA_US / share) if share else 100_000
        if self.v2:
            self._write("cpu.max", f"{QUOTA_US if share else 'max'} {period}")
        else:
            self._write("cpu.cfs_quota_us", -1)  # (a period shorter than the quota would be refused)
            self._write("cpu.cfs_period_us", period)
            if share:
                self._write("cpu.cfs_quota_us", QUOTA_US)

    def enter(self, pid: int = 0) -> None:
        """Move process ``pid`` (0: this one), every thread of it, into the group."""
        self._write("cgroup.procs", pid or os.getpid())

    def throttled(self) -> dict:
        """The kernel's count of periods and throttled periods so far."""
        fields = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return {"periods": int(fields.get("nr_periods", 0)), "throttled": int(fields.get("nr_throttled", 0))}

    def remove(self) -> None:
        """Move what is left to the parent, then delete the group."""
        parent = self.path.parent
        try:
            for pid in (self.path / "cgroup.procs").read_text().split():
                try:
                    (parent / "cgroup.procs").write_text(pid)
                except OSError:
                    pass  # gone meanwhile
            self.path.rmdir()
        except OSError:
            pass


@contextmanager
def weighted(log) -> Iterator[Optional[Group]]:
    """The benchmark's own group, weighted ahead of other work on the machine, with this process
    (and every process it starts) in its leaf ``main``; yields the group, or None where cgroups
    cannot be used here (the run goes on unweighted)."""
    reason = available()
    if reason:
        log(f"benchmark not weighted ahead of other work: {reason}")
        yield None
        return
    top = Group.make(f"atsock-bench-{os.getpid()}")
    top.weigh(HIGH_WEIGHT)
    main = Group.make("main", top)
    main.weigh(HIGH_WEIGHT)
    main.enter()
    try:
        yield top
    finally:
        root = V2 if top.v2 else V1
        Group(root, top.v2).enter()
        for child in sorted(top.path.iterdir()):
            if child.is_dir():
                Group(child, top.v2).remove()
        top.remove()
