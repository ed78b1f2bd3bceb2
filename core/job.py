"""One run to train, wherever it trains: the seeds expansion makes Jobs, the executors (this
thread, worker processes, Ray tasks), the headless runners and the console's queue take them.

Keyword-only, so no caller depends on the order of the fields.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .config import RunConfig


@dataclass(frozen=True, kw_only=True)
class Job:
    name: str                      # the run's name (its folder's, unless `folder` is given)
    config: RunConfig
    group: str | None = None       # the run it repeats over seeds (None: its own name)
    experiment: str = "custom"     # the folder it is recorded under (core.trainer.train's default)
    resume_dir: str | None = None  # carry on this run folder rather than start a new one
    folder: str | None = None      # the run folder promised to it (core.records.free_folder); None: the first free
    key: str = ""                  # the caller's handle for its events (e.g. the console's row); "": its name

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


def queue_of(jobs, experiment: str | None, resume_dir: str | None = None) -> list[Job]:
    """`run`'s queue: `jobs` (Jobs, or (run name, RunConfig) pairs) keyed by their place in the
    queue (names may repeat), in `experiment` and resuming `resume_dir` when given, else in each
    Job's own (a study's jobs span experiments and run folders)."""
    return [replace(job, experiment=experiment or job.experiment, resume_dir=resume_dir or job.resume_dir,
                    key=str(i))
            for i, job in enumerate(job if isinstance(job, Job) else Job(name=job[0], config=job[1])
                                    for job in jobs)]
