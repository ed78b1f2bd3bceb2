"""Where runs train: the one Executor interface, and its placement in this thread.

Placing runs is not training them: an executor takes jobs and hands each to
`core.lifecycle.train` somewhere, and reports every run's events as
`on_event(job.key, event)` — the same events, in the same order, wherever the run
trained. The placements: `ThreadExecutor` (here, in the caller's thread),
`core.processes.ProcessExecutor` (worker processes) and `core.ray_executor.RayExecutor`
(Ray tasks); `core.placement.make_executor` builds the one a placement describes and
`core.drain.drain` feeds it from a queue.

    with make_executor(placement, logdir) as executor:
        ended = executor.run(jobs, on_event, stop)   # {job.key: RunEnded}; blocks
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from .events import RunEnded
from .job import Job


@dataclass
class Executor:
    """The interface. `run` trains `jobs` and returns {job.key: RunEnded} for those it started;
    `stop` stops every run within a batch (records stopped, resumable), `hurry` as well abandons
    their epochs at once where the runs train elsewhere. `here`: runs train in the caller's thread
    (one at a time: a stop flag per run makes sense; a second Ctrl-C reaches the trainer)."""
    logdir: str
    data_url: str | None = None
    data_md5: str | None = None
    here = False

    def run(self, jobs, on_event, stop: threading.Event | None = None,
            hurry: threading.Event | None = None) -> dict[str, RunEnded]:
        raise NotImplementedError

    @contextmanager
    def session(self):
        """Around several `run` calls of one queue (core.drain): what they may share lives this long."""
        yield self

    def check(self, jobs=(), resume_dir: str | None = None) -> None:
        """Before anything starts: can these jobs be placed? ConfigError with one sentence if not."""

    def close(self) -> None:
        """Let go of what the executor holds (a Ray connection); runs nothing more."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def train_kwargs(self, job: Job) -> dict:
        """`core.lifecycle.train`'s keyword arguments for `job` (where it is recorded, what it resumes)."""
        return {"logdir": self.logdir, "experiment": job.experiment, "run": job.name,
                "data_url": self.data_url, "data_md5": self.data_md5, "resume_dir": job.resume_dir,
                "group": job.group, "folder": job.folder}


def _train(*args, **kwargs) -> RunEnded:
    from .lifecycle import train  # imported late: torch and the loop load with the first run

    return train(*args, **kwargs)


@dataclass
class ThreadExecutor(Executor):
    """Trains jobs in turn in the caller's thread, the data set loaded once and shared by the
    runs of a session (core.data.SharedData). `train`: the trainer (a test may script one)."""
    train: object = field(default=_train, repr=False)
    here = True

    def __post_init__(self) -> None:
        # the session's data set, per thread: a console's next drain may start while the last one's ends
        self._local = threading.local()

    @contextmanager
    def session(self):
        from .data import SharedData

        outer = getattr(self._local, "data", None) is None
        if outer:
            self._local.data = SharedData(self.data_url, self.data_md5)
        try:
            yield self
        finally:
            if outer:  # the data set (and its device copy) goes with the session
                self._local.data = None

    def run(self, jobs, on_event, stop=None, hurry=None) -> dict[str, RunEnded]:
        stop = stop or threading.Event()
        ended = {}
        with self.session():
            for job in jobs:
                if stop.is_set():
                    break
                ended[job.key] = self.train(job.config, lambda event, key=job.key: on_event(key, event), stop,
                                            data=self._local.data, **self.train_kwargs(job))
        return ended
