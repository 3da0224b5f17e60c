"""Who this process is, in a form other processes can check.

A database-store claim names the process that holds it as ``where:pid:start``,
where ``start`` is when the process started (clock ticks since boot, from
``/proc``, on Linux; else the time this module was imported). A pid alone is
reused by the operating system; with its start time, a process on the same host
can tell whether the claimer is still alive (its pid exists and started at that
time) or gone.

``where`` is the host name, and on Linux the process's pid namespace
(``host/4026531836``): containers that share a host name (``--network host``)
do not see each other's pids, so a process in another namespace counts as on
another host, and only its lease can tell whether it is alive.
"""

from __future__ import annotations

import os
import socket
import time

HOST = socket.gethostname()


def _pid_namespace() -> str | None:
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None
    return link.partition("[")[2].rstrip("]") or None


#: This host and pid namespace, as claims name it.
WHERE = HOST if (_namespace := _pid_namespace()) is None else f"{HOST}/{_namespace}"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as a stable token; None if it does not exist
    or the system does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state is field 3, starttime field 22 (man 5 proc).
    return fields[19].decode()


_identity: tuple[int, str] | None = None
_imported_at = f"t{time.time():.6f}"


def process_id() -> str:
    """``host:pid:start`` of this process (recomputed after a fork)."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        start = process_start(pid) or _imported_at
        _identity = (pid, f"{WHERE}:{pid}:{start}")
    return _identity[1]


def is_alive(claimer: str) -> bool | None:
    """Whether the process ``claimer`` (``where:pid:start``) still runs: True or
    False when it is on this host and in this pid namespace, None elsewhere
    (only its lease can tell then)."""
    try:
        host_and_pid, start = claimer.rsplit(":", 1)
        host, pid_text = host_and_pid.rsplit(":", 1)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != WHERE:
        return None
    if start.startswith("t"):  # no start time known here: the pid must do
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return process_start(pid) == start
