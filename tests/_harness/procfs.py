# -*- test-case-name: tests -*-
"""
What Linux's C{/proc} says about a process that a test cannot ask itself:
its children, whether it has exited, its memory, the files it has open.
"""

from __future__ import annotations

import os
import stat


def childPids(parent: int) -> set[int]:
    """
    The processes whose parent is C{parent}, from C{/proc}.

    @param parent: A process ID.
    @return: The process IDs of its children.
    """
    children: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as status:
                fields = status.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.add(int(entry))
    return children


def hasExited(pid: int) -> bool:
    """
    Whether process C{pid} has exited: it is gone, or a zombie that its
    parent has not reaped yet (whose PID C{kill(pid, 0)} still finds).

    @param pid: A process ID.
    """
    try:
        with open(f"/proc/{pid}/stat") as status:
            fields = status.read().rpartition(")")[2].split()
    except OSError:
        return True
    return fields[0] in ("Z", "X")


def memoryStatus(pid: int, field: str = "VmHWM") -> int:
    """
    Read a memory figure of a process from C{/proc/PID/status}.

    @param pid: The process ID.
    @param field: C{"VmHWM"} (the peak resident set size since the process
        started) or C{"VmRSS"} (the resident set size now).
    @return: The figure in bytes.
    @raise KeyError: If the process has no such field.
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == field:
                number, unit = value.split()
                assert unit == "kB", line
                return int(number) * 1024
    raise KeyError(f"no {field} in /proc/{pid}/status")


def regularFilesOpen(pid: int) -> set[str]:
    """
    The regular files a process has open now, from C{/proc/PID/fd}: a
    deleted or unnamed temporary file still shows there (as C{/tmp/#123
    (deleted)}), though not in any directory listing.

    @param pid: The process ID.
    @return: The targets of the descriptors that are regular files.
    """
    found = set()
    directory = f"/proc/{pid}/fd"
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            # stat() follows the link to the open file, even a deleted one.
            if stat.S_ISREG(os.stat(path).st_mode):
                found.add(os.readlink(path))
        except FileNotFoundError:
            # Closed since the listing.
            continue
    return found


