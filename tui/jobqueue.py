"""The runs waiting to train: the app appends, one training thread takes them in order.

Thread-safe. `put` says when no thread is taking jobs, so the caller starts one; the
thread ends once `take` finds the queue empty (or after `abandon`), and the next `put`
starts another. Plain Python, so the tests can drive it without the console.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from core.config import RunConfig


@dataclass
class Job:
    key: str          # the RunView's key
    name: str
    experiment: str
    config: RunConfig
    resume_dir: str | None = None  # carry on this run folder rather than start a new one
    group: str | None = None       # the run it repeats over seeds (None: its own name)
    folder: str | None = None      # the run folder its row promised (RunView.folder)
    recipe: object = None          # the tui.recipes.Recipe it was started from (None: a resume)
    stop: threading.Event = field(default_factory=threading.Event, compare=False)


class JobQueue:
    def __init__(self) -> None:
        # re-entrant: a quit signal's handler runs on the main thread, maybe inside `put`
        self._lock = threading.RLock()
        self._jobs: deque[Job] = deque()
        self._taking = False       # a training thread is taking jobs
        self.current: Job | None = None  # the job that thread trains now

    def put(self, jobs: list[Job]) -> bool:
        """Append `jobs`; True when no thread takes jobs: the caller must start one."""
        with self._lock:
            self._jobs.extend(jobs)
            start, self._taking = not self._taking, True
            return start

    def take(self) -> Job | None:
        """The next job (it becomes `current`); None when there is none: the thread must end."""
        with self._lock:
            self.current = self._jobs.popleft() if self._jobs else None
            self._taking = self.current is not None
            return self.current

    def take_all(self) -> list[Job]:
        """Every queued job at once, sharing one stop flag (for workers that train them side by
        side; the first becomes `current`, so stopping it stops them all); [] ends the thread."""
        with self._lock:
            jobs, stop = list(self._jobs), threading.Event()
            self._jobs.clear()
            for job in jobs:
                job.stop = stop
            self.current = jobs[0] if jobs else None
            self._taking = bool(jobs)
            return jobs

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def clear(self) -> list[Job]:
        """Drop the jobs not started yet and return them."""
        with self._lock:
            dropped = list(self._jobs)
            self._jobs.clear()
            return dropped

    def abandon(self) -> list[Job]:
        """The training thread ends early (an error): drop the rest; the next `put` starts anew."""
        with self._lock:
            self._taking, self.current = False, None
            return self.clear()

    def halt(self) -> None:
        """Stop everything: drop the queue and stop the job in training within a batch."""
        with self._lock:
            self.clear()
            if self.current is not None:
                self.current.stop.set()
