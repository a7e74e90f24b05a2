"""A server's processes as /proc shows them (Linux): the tree under its first process, the CPU
that tree has used and the memory it holds. sshd forks per connection and pylibssh's workers
are children of their supervisor, so both are measured the same way.

CPU is best counted by a cgroup (:class:`CpuGroup`): it keeps the time of every process that
ran in it. /proc's counts (:func:`tree_cpu`) only reach a parent when it waits for its child,
and sshd's privilege-separated processes do not all wait for theirs: most of a session's CPU
(its encryption) is lost there.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def descendants(root: int) -> list[int]:
    """``root`` and every live process under it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue  # gone meanwhile
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and the live processes under it, each with its
    children that ended and were waited for. Between two calls the difference is what the
    tree used: a process counted live then reaped shows in its parent's count, in full."""
    total = 0
    for pid in descendants(root):
        try:
            fields = _stat(pid)
        except (OSError, IndexError):
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / TICK


def tree_memory(root: int) -> tuple[int, int, int]:
    """(processes, PSS KiB, RSS KiB) of ``root`` and the processes under it. PSS shares each
    page among the processes that map it, so a tree of forks is not counted many times."""
    count = pss = rss = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
            count += 1
        except OSError:
            continue
    return count, pss, rss


class CpuGroup:
    """A cgroup that counts the CPU of the processes put in it, and of all they start (cgroup
    v1's cpuacct, or v2's cpu.stat). :meth:`create` returns None where none can be made (no
    cgroup file system, or not allowed)."""

    def __init__(self, path: Path, v2: bool):
        self.path = path
        self._v2 = v2

    @classmethod
    def create(cls, name: str) -> CpuGroup | None:
        for base, v2 in ((Path("/sys/fs/cgroup/cpuacct"), False), (Path("/sys/fs/cgroup"), True)):
            probe = base / ("cpu.stat" if v2 else "cpuacct.usage")
            if not probe.exists() and not (v2 and (base / "cgroup.controllers").exists()):
                continue
            path = base / f"{name}-{os.getpid()}"
            try:
                path.mkdir()
            except OSError:
                continue
            return cls(path, v2)
        return None

    def add_tree(self, root: int) -> None:
        """Move ``root`` and the processes under it into the group (what they start later
        is born in it)."""
        moved: set[int] = set()
        while True:
            # again until nothing new: a child forked before its parent moved stays behind
            todo = [pid for pid in descendants(root) if pid not in moved]
            if not todo:
                return
            for pid in todo:
                try:
                    (self.path / "cgroup.procs").write_text(f"{pid}\n")
                except ProcessLookupError:
                    pass
                moved.add(pid)

    def cpu(self) -> float:
        """CPU seconds used by everything that ran in the group."""
        if self._v2:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return 0.0
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def remove(self) -> None:
        """Remove the group (once its processes have ended); a group still in use is left."""
        try:
            self.path.rmdir()
        except OSError:
            pass
