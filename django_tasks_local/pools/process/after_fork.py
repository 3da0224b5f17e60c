"""A process forked from one that used a process pool must not inherit it.

gunicorn ``--preload`` and ``fork`` workers copy the parent's memory: its pools'
pipe ends and its forkserver. The forked process closes its copies of the pipes
(so the parent's workers see end of file when the parent dies, not when every
copy is gone) and forgets the parent's forkserver (so it can start its own).
The runtime registry forgets the pools themselves (``runtime.py``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .supervisor import ProcessPool

#: Process pools of this process that hold pipes and children.
_live_pools: weakref.WeakSet[ProcessPool] = weakref.WeakSet()


def register(pool: ProcessPool) -> None:
    """``pool`` has started: a forked process must forget it."""
    _live_pools.add(pool)


def unregister(pool: ProcessPool) -> None:
    """``pool`` has closed its pipes: nothing to forget any more."""
    _live_pools.discard(pool)


def _after_fork_in_child() -> None:
    # Pipes of the parent's workers must not stay open in a forked process: the
    # workers would not see end of file when the parent goes away.
    for pool in list(_live_pools):
        pool.forget_after_fork()
    _live_pools.clear()
    _forget_parents_forkserver()


def _forget_parents_forkserver() -> None:
    """Let a forked process (gunicorn ``--preload``) start its own forkserver.

    multiprocessing keeps the parent's forkserver in a module-level object that
    ``os.fork()`` copies; the child then fails to start any process, because
    the server is not its child (``ChildProcessError``). Forgetting it (and
    closing the child's copy of its keep-alive pipe) makes the next start launch
    a server of the child's own; the parent's server is left alone.
    """
    try:
        from multiprocessing.forkserver import _forkserver
    except ImportError:  # a platform without forkserver
        return
    server: Any = _forkserver  # private attributes, which typeshed does not list
    if server._forkserver_pid is None:
        return
    if server._forkserver_alive_fd is not None:
        with contextlib.suppress(OSError):
            os.close(server._forkserver_alive_fd)
    server._forkserver_alive_fd = None
    server._forkserver_address = None
    server._forkserver_pid = None
    server._lock = threading.Lock()  # another thread may have held it at fork


os.register_at_fork(after_in_child=_after_fork_in_child)
