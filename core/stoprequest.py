"""Stop requests: a file that asks whoever trains a run (or a Ray study's tasks) to stop.

A signal reaches only a process on this host, and it stops that whole process, the rest of
its queue too. A request file in the run folder stops that one run, wherever it trains (a
console's thread, a `--parallel` worker, a Ray task, a headless `run` on another host that
shares the log dir): the run's stop flag (`StopFlag`) sees the file within about CHECK_S,
the run ends `stopped` (resumable, the record any stop leaves) and its writer goes on with
its queue. The writer removes the request when the run ends, and when a resume of the folder
begins, so a request left behind never stops a later resume.

The request is written under a temporary name and renamed into place: never through a link
planted at its name. Only a plain file counts as a request.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
import uuid
from pathlib import Path

REQUEST = ".stop"  # in a run folder: stop this run; in a Ray study's control folder: stop every task
CHECK_S = 0.5      # a flag looks for its request file at most this often (one stat: cheap on NFS too)


def request(folder) -> Path:
    """Ask the writer of `folder` to stop; the request's path. OSError when it cannot be written."""
    folder = Path(folder)
    temp = folder / f"{REQUEST}.{uuid.uuid4().hex}.tmp"
    text = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}).encode()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)
    try:
        os.rename(temp, folder / REQUEST)  # replaces a link planted at the name, never what it points to
    except OSError:
        temp.unlink(missing_ok=True)
        raise
    return folder / REQUEST


def requested(folder) -> bool:
    """Whether a stop of `folder` is asked for (one lstat; a link or a folder there asks nothing)."""
    try:
        return stat.S_ISREG(os.lstat(Path(folder) / REQUEST).st_mode)
    except OSError:
        return False


def clear(folder) -> None:
    """Withdraw the request of `folder`, if any (the run ended, or a resume of it begins)."""
    try:
        (Path(folder) / REQUEST).unlink()
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError):
        pass


class StopFlag(threading.Event):
    """A run's stop flag: set by `set()`, by the flag it extends (`parent`: its writer's, which
    stops a whole queue), or by a request file in `folder`. The file is looked for at most every
    `every_s` seconds (default CHECK_S; 0: at every look), so a trainer may ask every batch."""

    def __init__(self, folder, parent: threading.Event | None = None, every_s: float | None = None,
                 clock=time.monotonic):
        super().__init__()
        self.folder, self.parent, self.clock = Path(folder), parent, clock
        self.every_s = CHECK_S if every_s is None else every_s
        self._next = 0.0

    def is_set(self) -> bool:
        if not super().is_set() and ((self.parent is not None and self.parent.is_set()) or self._look()):
            self.set()
        return super().is_set()

    def _look(self) -> bool:
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self.every_s
        return requested(self.folder)
