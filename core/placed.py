"""Watching a run that trains elsewhere (a worker process, a Ray task) through its run folder.

Written once for every placement that trains away from the caller: a `Placed` job
follows the folder its trainer names (core.follow.Follower), passes the events on
as `on_event(job.key, event)` — one RunEnded and nothing after it — and, when the
trainer died before it could write the run's end, writes that end itself, so the
record says what happened. `prefetch` downloads CIFAR-10 once, before any trainer
starts, rather than in every one at the same time.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from . import data as data_mod
from .events import RunEnded, RunStarted
from .follow import FollowError, Follower
from .job import Job
from .records import STATUS, read_metrics, write_status


@dataclass
class Placed:
    job: Job
    follower: Follower | None = None
    ended: RunEnded | None = None  # the RunEnded passed on to the caller
    where: dict = field(default_factory=dict)  # RunStarted's fields the placement knows: worker, node

    def follow(self, run_dir, first_epoch: int) -> None:
        """Watch the folder the trainer named (the placement watches the trainer itself, not the lock)."""
        try:
            self.follower = Follower(run_dir, first_epoch, writer_alive=lambda: True)
        except FollowError:  # deleted at once: the trainer fails writing it and says so itself
            self.follower = None

    def emit(self, events, on_event) -> None:
        for event in events:
            if isinstance(event, RunStarted) and self.where:  # where it trains: the console's queue view
                event = dataclasses.replace(event, **self.where)
            if self.ended is None:  # one RunEnded, and nothing after it
                on_event(self.job.key, event)
                self.ended = event if isinstance(event, RunEnded) else None

    def poll(self, on_event) -> None:
        if self.follower is not None:
            self.emit(self.follower.poll(), on_event)

    def conclude(self, on_event, died=None, fallback: RunEnded | None = None) -> None:
        """The trainer is over. `died(done)`: (status, Advice, cause) to record when it ended
        without writing the run's end (None: it may not have); then what the folder says,
        else `fallback` (what the trainer said, or why it is unknown)."""
        path = self.follower.path
        if died is not None and path.is_dir() and not (path / STATUS).exists():
            done = len(read_metrics(path))
            status, advice, cause = died(done)
            write_status(path, status, advice.say(), done, cause, advice)
        self.poll(on_event)
        if fallback is not None:
            self.emit([fallback], on_event)


def prefetch(jobs: list, on_event, ended: dict, url: str | None, md5: str | None) -> list:
    """Download CIFAR-10 once, here; if that fails, the runs that need it fail as they would in
    this thread (no run folder: `ended` and `on_event` get their RunEnded), the rest are returned."""
    needed = {j.config.data_dir for j in jobs if j.config.dataset == "cifar10"}
    failed = {}
    for data_dir in needed:
        if not os.path.isdir(os.path.join(data_dir, data_mod.FOLDER)):
            try:
                data_mod.fetch_cifar10(data_dir, url, md5)
            except data_mod.DataError as e:
                failed[data_dir] = str(e)
    keep = []
    for job in jobs:
        if job.config.dataset == "cifar10" and job.config.data_dir in failed:
            ended[job.key] = RunEnded(job.name, "failed", failed[job.config.data_dir], cause="data")
            on_event(job.key, ended[job.key])
        else:
            keep.append(job)
    return keep

