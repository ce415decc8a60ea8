"""Is the process that started a run still alive?

A run records the host, the pid and the pid's start time (from ``/proc``) when it starts.
A run still marked running whose process is gone, or whose pid now belongs to a newer
process, was killed (``kill -9``, an out-of-memory kill, a power cut) and is shown as
*interrupted*. A run started on another host cannot be checked from here and keeps its
recorded status.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessStamp:
    host: str
    pid: int
    started: str | None


def current_process() -> ProcessStamp:
    pid = os.getpid()
    return ProcessStamp(host=socket.gethostname(), pid=pid, started=process_start(pid))


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, with the boot id (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the command name, which may contain spaces.
    fields = stat.rpartition(")")[2].split()
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "?"
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def is_alive(stamp: ProcessStamp) -> bool | None:
    """``True``/``False`` for a process on this host; ``None`` when it cannot be told."""
    if stamp.host != socket.gethostname():
        return None
    try:
        os.kill(stamp.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if stamp.started is not None:
        now = process_start(stamp.pid)
        if now is not None and now != stamp.started:
            return False  # the pid was reused by a newer process
    return True
