"""The runs waiting to train (core.job.Job): the console appends (`run` puts its list once), one
training thread takes them in order (core.drain).

Thread-safe. `put` says when no thread is taking jobs, so the caller starts one; the
thread ends once `take` finds the queue empty (or after `abandon`), and the next `put`
starts another. Each take comes with its own stop flag (and hurry flag: abandon the
epoch at once), so stopping the run in training leaves the queue going on.
"""
from __future__ import annotations

import threading
from collections import deque

from .job import Job  # its key is the caller's handle (the console's row)


class JobQueue:
    def __init__(self) -> None:
        # re-entrant: a quit signal's handler runs on the main thread, maybe inside `put`
        self._lock = threading.RLock()
        self._jobs: deque[Job] = deque()
        self._taking = False       # a training thread is taking jobs
        self.current: Job | None = None  # the job that thread trains now
        self.stop = threading.Event()    # stops `current` (and the jobs taken with it) within a batch
        self.hurry = threading.Event()   # as well: abandons their epochs at once

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
            if self.current is not None:
                self._flags()
            return self.current

    def take_all(self) -> list[Job]:
        """Every queued job at once, sharing one stop flag (for workers that train them side by
        side; the first becomes `current`, so stopping it stops them all); [] ends the thread."""
        with self._lock:
            jobs = list(self._jobs)
            self._jobs.clear()
            if jobs:
                self._flags()
            self.current = jobs[0] if jobs else None
            self._taking = bool(jobs)
            return jobs

    def _flags(self) -> None:
        self.stop, self.hurry = threading.Event(), threading.Event()

    def training(self) -> tuple[Job | None, threading.Event]:
        """`current` and its stop flag, read together (the training thread may take the next)."""
        with self._lock:
            return self.current, self.stop

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def clear(self) -> list[Job]:
        """Drop the jobs not started yet and return them."""
        with self._lock:
            dropped = list(self._jobs)
            self._jobs.clear()
            return dropped

    def remove(self, key: str) -> Job | None:
        """Take the job `key` off the queue before it starts (x on its row); None if it is not there."""
        with self._lock:
            job = next((j for j in self._jobs if j.key == key), None)
            if job is not None:
                self._jobs.remove(job)
            return job

    def abandon(self) -> list[Job]:
        """The training thread ends early (an error): drop the rest; the next `put` starts anew."""
        with self._lock:
            self._taking, self.current = False, None
            return self.clear()

    def halt(self, hurry: bool = False) -> None:
        """Stop everything: drop the queue and stop the job in training within a batch (`hurry`:
        abandon its epoch at once)."""
        with self._lock:
            self.clear()
            if self.current is not None:
                self.stop.set()
                if hurry:
                    self.hurry.set()
