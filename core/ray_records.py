"""Runs on a Ray cluster whose nodes do not share the log dir: the driver keeps the records.

Each task (core.ray_task) posts its run's record, as it happens, to the study's Mailbox, an actor
on the driver's node: where it runs, config.json, its events, each finished epoch's metrics row
with its checkpoint, and how it ended. The driver takes them every POLL_S and writes the run folder
on its own disk with the pieces a local run uses (core.records.RunRecord, core.progress's
ProgressWriter, core.outcomes), holding the folder's lock, and hands each event to `on_event` after
writing it, as core.lifecycle.train does. A stop reaches the tasks as the reply to their posts.

A task whose worker or node is lost runs again, on any node, from the last checkpoint the driver
holds (put in the object store, handed to the retry as an object ref); Ray's own retries are off,
as they would start the task over from its first arguments. Messages of an earlier attempt that
arrive late are dropped.
"""
from __future__ import annotations

import dataclasses
import traceback
from pathlib import Path

from .advice import resume_advice
from . import stoprequest
from .events import BatchProgress, EpochDone, RunEnded, RunNote, RunStarted
from .job import Job
from .ray_mailbox import Mailbox
from .outcomes import outcome
from .progress import ProgressWriter
from .ray_data import put_data
from .ray_nodes import checked, node_name, packed, task_failure
from .ray_retries import LOST, first_line, retry_line
from .records import RunRecord, atomic_write, checkpoint_bytes, new_run_dir
from .trainer import Stopped

POLL_S = 0.1     # how often the driver takes the tasks' messages
WAIT_S = 120.0   # how long a driver that must end early waits for its stopped tasks
PHASES = ("start", "train", "eval")


def run_with_driver_records(executor, jobs, on_event, stop, hurry) -> dict[str, RunEnded]:
    """core.ray_executor.RayExecutor.run for a cluster whose nodes do not share the log dir."""
    ray = executor.cluster.ray
    mailbox = _mailbox(ray)
    ended: dict[str, RunEnded] = {}
    runs: list[_Run] = []
    executor.attempts = {}
    try:
        queue, data = put_data(ray, list(jobs), on_event, ended, executor.data_url, executor.data_md5)  # once, here
        for job in queue:
            run = _Run(job, executor, mailbox, on_event, data.get(job.key))
            runs.append(run)
            run.begin()
        by_key = {run.job.key: run for run in runs}
        stopping = hurrying = False
        while running := [run for run in runs if run.ref is not None]:
            if (stop.is_set() or hurry.is_set()) and not stopping:
                stopping = True
                mailbox.stop.remote()
            if hurry.is_set() and not hurrying:  # KeyboardInterrupt in each task: the epoch is abandoned
                hurrying = True
                for run in running:
                    ray.cancel(run.ref)
            ready, _ = ray.wait([run.ref for run in running], num_returns=len(running), timeout=POLL_S)
            for key, attempt, message in ray.get(mailbox.take.remote()):  # those of ended tasks too
                by_key[key].receive(attempt, message)
            for run in running:
                if run.ref in ready:
                    run.attempt_over(stopping)
                else:
                    run.look_for_request()
        return {**ended, **{run.job.key: run.ended for run in runs}}
    finally:  # an error here (e.g. in on_event) must not leave runs training, nor records open
        _wind_down(ray, mailbox, runs)


def _mailbox(ray):
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(Mailbox).options(num_cpus=0, scheduling_strategy=here).remote()


def _wind_down(ray, mailbox, runs: list["_Run"]) -> None:
    """Stop the tasks still running, record what they sent, end every record, close the mailbox."""
    live = [run.ref for run in runs if run.ref is not None]
    try:
        if live:
            mailbox.stop.remote()
            ray.wait(live, num_returns=len(live), timeout=WAIT_S)
            by_key = {run.job.key: run for run in runs}
            for run in runs:
                run.on_event = lambda key, event: None  # the caller is gone (its callback may have failed)
            for key, attempt, message in ray.get(mailbox.take.remote(), timeout=WAIT_S):
                by_key[key].receive(attempt, message)
    finally:
        for run in runs:
            run.abandon()
        ray.kill(mailbox)


class _Run:
    """One job on the driver: its attempts, and the record it writes from their messages."""

    def __init__(self, job: Job, executor, mailbox, on_event, data=None):
        self.job, self.executor, self.mailbox, self.on_event = job, executor, mailbox, on_event
        self.data = data  # its data set's arrays in the object store (core.ray_data), or None
        self.config, self.resources = executor.task_config(job.config)
        self.attempt, self.ref = 0, None
        self.path: Path | None = Path(job.resume_dir) if job.resume_dir else None
        self.record = self.lock = self.progress = None
        self.changed, self.rows = None, None  # a resume's config.json (None: unchanged) and kept rows
        self.first, self.state, self.done = 1, None, 0  # where the next attempt starts
        self.started, self.last = False, (0, -1, 0)      # what on_event has been told
        self.ended: RunEnded | None = None
        self.halted = -1  # the attempt asked to stop for a request file in the run folder
        self._out: list = []

    # --- the driver's side of core.lifecycle.train ------------------------------------------

    def begin(self) -> None:
        """Submit the first attempt; a run folder to resume is checked (and locked) first."""
        try:
            self._begin()
        finally:
            self._flush()

    def _begin(self) -> None:
        if self.path is not None:
            from .lifecycle import already_finished, take_resume

            try:
                self.lock, self.config, state, self.first, self.changed = take_resume(self.path, self.config)
            except Exception as e:
                return self._ended(outcome(e, self.config, str(self.path), 0, False))
            self.done = self.first - 1
            if self.first > self.config.epochs:
                try:
                    self.ended = already_finished(self._out.append, self.path, self.job.name, self.done)
                finally:
                    self._close()
                return
            self.rows = state["metrics"] if state else []
            self.state = bytes(checkpoint_bytes(state)) if state else None
        self._submit()

    def receive(self, attempt: int, message: tuple) -> None:
        if attempt != self.attempt or self.ended is not None:  # a lost attempt's, or after the end
            return
        kind, *args = message
        try:
            if kind == "where":
                self._where(*args)
            elif kind == "open":
                self._open(args[0])
            elif kind == "event":
                self.progress(dataclasses.replace(args[0], run_dir=str(self.path))
                              if isinstance(args[0], RunStarted) else args[0])
            elif kind == "epoch":
                self._epoch(*args)
            elif kind == "end":
                self._finish(*args)
            elif kind == "raised":
                self._raised(*args)
        except Exception as e:  # the record cannot be written here: the run ends, as a local one would
            self.mailbox.halt.remote(self.job.key, self.attempt)
            self._raised(e, traceback.format_exc(), self.done, True)
        self._flush()

    def _where(self, node_id: str, ip: str, pid: int) -> None:
        """An attempt began on a node: a retry says so at once; the first, after its RunStarted."""
        tries = self.executor.attempts.setdefault(self.job.key, [])
        tries.append({"node_id": node_id, "ip": ip, "pid": pid, "first_epoch": self.first})
        if len(tries) > 1:
            self._out.append(RunNote(self.job.name, retry_line(tries[-2], tries[-1], len(tries),
                                                               self.executor.max_retries, self.executor._alive())))

    def _open(self, meta: dict | None) -> None:
        if self.record is not None:  # a retry: the record stays open
            return
        if self.lock is not None:
            self.record = RunRecord(self.path, self.changed, resume_from=self.first, rows=self.rows, lock=self.lock)
        else:
            self.path = new_run_dir(self.executor.logdir, self.job.experiment, self.job.name, self.job.folder)
            self.record = RunRecord(self.path, meta)
        self.progress = ProgressWriter(self.path, self._tell)

    def _epoch(self, row: dict, blob: bytes) -> None:
        self.record.log_epoch(row)
        self.record.save_checkpoint_bytes(blob)
        self.state, self.done, self.first = blob, row["epoch"], row["epoch"] + 1
        self.progress(EpochDone(self.job.name, row["epoch"], self.config.epochs, row))

    def _raised(self, e: BaseException, details: str, _done: int, _opened: bool = True) -> None:
        """The task raised `e` (`details`: its traceback): mapped as core.lifecycle.train maps it,
        with what the driver knows (the run folder, the epochs it recorded)."""
        ended = outcome(e, self.config, str(self.path or ""), self.done, self.record is not None)
        if ended.cause == "internal" and self.path is not None:  # a bug: the details go in the run folder
            try:
                atomic_write(self.path / "error.log", lambda f: f.write(details.encode()), sync=False)
            except OSError:
                pass
        self._ended(ended)

    def _ended(self, ended) -> None:
        self._finish(ended.status, ended.message, self.done, ended.cause, ended.advice)

    def _finish(self, status: str, message: str, done: int, cause: str = "", advice=None) -> None:
        if self.record is not None:
            try:
                self.record.finish(status, message, done, cause, advice)
            except OSError:
                pass
            stoprequest.clear(self.path)  # answered (or too late): gone before the lock is
        self._close()
        self.ended = RunEnded(self.job.name, status, message, done, str(self.path or ""), cause, advice)
        self._tell(self.ended)

    def _close(self) -> None:
        if self.record is not None:
            self.record.close()
        elif self.lock is not None:
            self.lock.close()
        self.record = self.lock = None

    def _tell(self, event) -> None:
        """Pass an event on once written: one RunStarted whatever the attempts, progress only forward."""
        if isinstance(event, RunStarted):
            if self.started:
                return
            self.started = True
            tries = self.executor.attempts.get(self.job.key)
            if tries:  # where it trains (the console's queue view), then the line that says so
                event = dataclasses.replace(event, node=node_name(tries[-1]["node_id"], tries[-1]["ip"]))
                self._out += [event, RunNote(self.job.name, first_line(tries[-1]))]
                return
        elif isinstance(event, (BatchProgress, EpochDone)):
            where = (event.epoch, PHASES.index(event.phase), event.batch) if isinstance(event, BatchProgress) \
                else (event.epoch, len(PHASES), 0)
            if where <= self.last:
                return
            self.last = where
        self._out.append(event)

    def _flush(self) -> None:
        out, self._out = self._out, []
        for event in out:
            self.on_event(self.job.key, event)

    def look_for_request(self) -> None:
        """x on this run in a console (core.stoprequest: a request file in its folder, here on the
        driver's disk): its task is told to stop, and the run ends stopped while the others go on."""
        if self.record is not None and self.halted != self.attempt and stoprequest.requested(self.path):
            self.halted = self.attempt
            self.mailbox.halt.remote(self.job.key, self.attempt)

    # --- attempts ---------------------------------------------------------------------------

    def _submit(self) -> None:
        from .ray_task import train_task

        ray, ex = self.executor.cluster.ray, self.executor
        kwargs = {"run": self.job.name, "experiment": self.job.experiment, "group": self.job.group,
                  "data_url": ex.data_url, "data_md5": ex.data_md5, "fresh": self.record is None and self.lock is None}
        state = None if self.state is None else ray.put(self.state)
        task = ray.remote(checked(train_task)).options(  # checked: for a node that joined after check()
            name=f"cifar-tui {self.job.name}", max_retries=0, scheduling_strategy="SPREAD", **self.resources)
        self.ref = task.remote(packed(self.config, kwargs, ex.cpus_per_run, self.job.key, self.attempt, self.first),
                               self.mailbox, state, self.data)

    def attempt_over(self, stopping: bool) -> None:
        """The attempt's task is over: the run ended (its messages said so), or it runs again from
        the driver's last checkpoint, or its end is written here."""
        ray = self.executor.cluster.ray
        ref, self.ref, lost = self.ref, None, None
        try:
            ray.get(ref)
        except ray.exceptions.TaskCancelledError:  # hurried
            stopping = True
        except ray.exceptions.RayTaskError as e:  # the task's own code failed, e.g. no cifar-tui on that node
            if self.ended is None:
                self._finish("failed", task_failure(e, self.executor.cluster.ships_code), self.done, "internal")
        except ray.exceptions.RayError as e:  # its worker or node was lost
            lost = e
        if self.ended is None:
            if lost is not None and not stopping and self.attempt < self.executor.max_retries:
                self.attempt += 1
                self._submit()
            elif lost is not None and not stopping:
                self._lost(lost)
            else:
                self._ended(outcome(Stopped(), self.config, str(self.path or ""), self.done, self.record is not None))
        self._flush()

    def _lost(self, lost) -> None:
        tries = self.executor.attempts.get(self.job.key)
        last = f", last on node {node_name(tries[-1]['node_id'], tries[-1]['ip'])}" if tries else ""
        why = f"its Ray worker was lost ({type(lost).__name__}) {self.executor._attempts()}{last}"
        if self.record is None:
            return self._finish("failed", f"{why}, before the run began; nothing was recorded.", self.done, LOST)
        advice = resume_advice(f"{why}; {self.done} finished epoch(s) are recorded", self.path)
        self._finish("failed", advice.say(), self.done, LOST, advice)

    def abandon(self) -> None:
        """The driver ends early: a record still open ends stopped (resumable), its lock released."""
        if self.ended is None and (self.record is not None or self.lock is not None):
            self._ended(outcome(Stopped(), self.config, str(self.path or ""), self.done, self.record is not None))
        self._close()
