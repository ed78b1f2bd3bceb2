"""The one queue drain: the console's training thread and `cifar-tui run` both train this way.

`drain(queue, executor, on_event)` takes jobs from a core.jobqueue.JobQueue until it is
empty and runs them through the executor: one at a time where they train in this thread
(each with its own stop flag, so stopping one leaves the queue going on), in rounds of
everything queued where they train elsewhere (a round shares one stop flag; jobs queued
meanwhile go in the next round). What stops it: the queue's stop flag with nothing left
queued (`queue.halt()`), and CIFAR-10 missing — the rest of the queue would fail the
same way, so it is cleared (and returned, for the caller to offer synthetic data or say so).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .events import RunEnded
from .executor import Executor
from .jobqueue import JobQueue


@dataclass
class Drained:
    ended: dict[str, RunEnded] = field(default_factory=dict)  # job.key -> its RunEnded, for the jobs started
    dropped: list = field(default_factory=list)               # jobs cleared from the queue: CIFAR-10 is missing


def data_missing(config, ended: RunEnded | None) -> bool:
    """Whether a run failed because CIFAR-10 is not on disk and could not be fetched."""
    return ended is not None and config.dataset == "cifar10" and ended.cause == "data"


def drain(queue: JobQueue, executor: Executor, on_event) -> Drained:
    """Train what `queue` holds (and what is put meanwhile) through `executor`; `on_event(key, event)`
    gets every run's events. Leaves the queue empty (an error drops the rest: the next put starts anew)."""
    drained = Drained()
    try:
        with executor.session():
            while jobs := (_one(queue.take()) if executor.here else queue.take_all()):
                ended = executor.run(jobs, on_event, queue.stop, queue.hurry)
                drained.ended.update(ended)
                if any(data_missing(job.config, ended.get(job.key)) for job in jobs):
                    drained.dropped += queue.clear()
    except BaseException:
        queue.abandon()
        raise
    return drained


def _one(job) -> list:
    return [job] if job is not None else []
