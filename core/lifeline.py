"""Worker processes that end with the process that started them, however it ends (even SIGKILL).

`--parallel`'s training workers and `bench --concurrent`'s timing workers call
`die_with_parent` first thing: without it a parent killed by a signal it cannot catch
leaves its workers running, with init as their parent, for as long as they train.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.connection import wait

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Make this spawned process receive `signum` when its parent ends. On Linux the kernel
    sends it (prctl's parent-death signal); elsewhere a thread watches the parent's sentinel,
    a pipe that closes when the parent is gone. Does nothing outside a multiprocessing child.
    (Linux counts the parent's thread that started the child: start workers from a thread that
    outlives them, as the executors do, joining their workers before they return.)"""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if not _parent_death_signal(signum):
        threading.Thread(target=_watch, args=(parent.sentinel, signum), name="cifar-tui parent watch",
                         daemon=True).start()
    if os.getppid() != parent.pid:  # it died before we asked: no signal will come for that
        os.kill(os.getpid(), signum)


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(sentinel: int, signum: int) -> None:
    wait([sentinel])  # readable (EOF) once the parent has exited
    os.kill(os.getpid(), signum)
