"""Following a run that another process is writing: its folder turned into the trainer's events.

A `Follower` reads a run folder and yields the events the trainer emits, in the
trainer's order: RunStarted (config.json), BatchProgress (progress.json),
EpochDone (new metrics.jsonl rows), RunEnded (status.json). It polls: each
`poll()` costs a few stat calls and reads only files that changed, so a thread
or a UI timer can call it a few times a second. It may see fewer progress
samples than the trainer sent (it reads the latest), never one the trainer did
not send, and never one out of order.

A writer that is gone without a status (its lock free: killed, crashed, the box
rebooted) ends the run as `interrupted`, resumable; a folder deleted while
followed ends it as failed with cause `deleted`.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import threading
import time
from pathlib import Path

from .advice import from_dict, resume_advice
from .events import BatchProgress, EpochDone, RunEnded, RunStarted
from .progress import checked_progress, sample_order
from .records import (CONFIG, METRICS_FILE, PROGRESS, STATUS, RecordError, is_locked, link_problem,
                      list_runs, lock_owner, read_meta, read_metrics, read_text)
from .schema import status_problem

QUIET_S = 1.0  # with no file changing for this long, check that the writer is still alive


class FollowError(RecordError):
    """The folder cannot be followed; the message says why and what to give instead."""


def live_runs(logdir) -> list[tuple[Path, dict | None]]:
    """(run folder, lock owner) of every run under `logdir` that a live process writes now."""
    return [(path, lock_owner(path)) for path in list_runs(logdir) if is_locked(path)]


def stop_writer(run_dir) -> str:
    """Ask the process writing `run_dir` to stop (SIGTERM: the run ends `stopped`, resumable; a
    `--parallel` worker stops only its run, a serial `cifar-tui run` its whole queue). Returns one
    sentence saying what was done, or why nothing was. One run alone: core.stoprequest."""
    refusal = signal_writer(run_dir)
    return refusal or f"asked {owner_text(lock_owner(run_dir))} to stop {Path(run_dir).name} after its current batch."


def signal_writer(run_dir, whole: bool = False) -> str | None:
    """SIGTERM to the process whose lock holds `run_dir` (`whole`: to the process whose queue it
    trains, when it is a --parallel worker); None when sent, else why not (one sentence)."""
    owner = lock_owner(run_dir)
    if whole and owner and owner.get("queue_pid"):
        owner = {**owner, "pid": owner["queue_pid"]}
    if not is_locked(run_dir):
        return f"{run_dir} is not being written now; nothing to stop."
    if owner is None:
        return f"{run_dir} is being written, but its lock does not name the writer; stop it where it was started."
    if owner.get("host") != socket.gethostname():
        return f"{run_dir} is written by {owner_text(owner)}; stop it on that machine."
    try:
        os.kill(int(owner["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        return f"{run_dir}: its writer, {owner_text(owner)}, is gone; nothing to stop."
    except PermissionError:
        return f"{run_dir} is written by {owner_text(owner)}, which this user may not stop."
    return None


def owner_text(owner: dict | None) -> str:
    return f"pid {owner['pid']} on {owner.get('host', '?')}" if owner else "its writer"


def writer_text(owner: dict | None) -> str:
    """The whole process that writes a run: its queue's, when a --parallel worker writes it."""
    if owner and owner.get("queue_pid"):
        return f"pid {owner['queue_pid']} on {owner.get('host', '?')} (its worker pid {owner['pid']} trains the run)"
    return owner_text(owner)


class Follower:
    """Yields a run folder's events, poll by poll, until its RunEnded.

    `first_epoch`: report epochs from this one on (a resumed run's trainer starts
    there; 1 replays the whole history, as an attaching console wants).
    `writer_alive`: how to tell the writer still runs (default: its lock is held);
    a caller that watches the writing process itself passes its own test.
    """

    def __init__(self, run_dir, first_epoch: int = 1, writer_alive=None, clock=time.monotonic):
        self.path = Path(run_dir)
        self.meta = _read_meta(self.path)
        self.first_epoch = first_epoch
        self.writer_alive = writer_alive or (lambda: is_locked(self.path))
        self.clock = clock
        self.done = False
        self.run = self.meta.get("run", self.path.name)
        self.epochs = self.meta.get("config", {}).get("epochs", 0)  # checked by core.schema
        self._started = False
        self._last_epoch = first_epoch - 1  # the last EpochDone sent
        self._last_sample: tuple | None = None  # sample_order of the last BatchProgress sent
        self._stats: dict[str, tuple] = {}
        self._changed_at = clock()

    def poll(self) -> list:
        """The events since the last poll (empty when nothing changed or the run has ended)."""
        if self.done:
            return []
        if not self.path.is_dir():
            return [self._end(RunEnded(self.run, "failed", f"{self.path} was deleted while it was followed; "
                                       "its record is gone.", self._last_epoch, str(self.path), "deleted"))]
        events = [] if self._started else [self._run_started()]
        self._started = True
        status, bad_status = self._status() if self._changed(STATUS) else (None, "")
        rows = read_metrics(self.path) if self._changed(METRICS_FILE) or status else []
        sample, bad_sample = checked_progress(self.path) if self._changed(PROGRESS) else (None, "")  # the newest
        if problem := bad_status or bad_sample or (link_problem(self.path) if rows or sample else ""):
            return events + self._merge(rows, None) + [self._damaged(problem)]
        events += self._merge(rows, sample)
        if status is not None:
            events.append(self._end(RunEnded(self.run, status.get("status", "failed"), status.get("message", ""),
                                             status.get("epochs_done", self._last_epoch), str(self.path),
                                             status.get("cause", ""), from_dict(status.get("advice")))))
        elif self.clock() - self._changed_at >= QUIET_S:
            events += self._check_writer()
        return events

    def _run_started(self) -> RunStarted:
        config = self.meta.get("config", {})
        sample = checked_progress(self.path)[0] or {}  # a damaged one: the first poll says so
        batches = sample.get("batches") or math.ceil(self.meta.get("train_images", 0) / config.get("batch_size", 1))
        owner = lock_owner(self.path) or {}  # the writer: where the run trains
        return RunStarted(self.run, self.meta.get("experiment", self.path.parent.name), str(self.path), self.epochs,
                          batches, sample.get("device", self.meta.get("device", "")), self.first_epoch,
                          config.get("precision", ""), host=str(owner.get("host", "")), pid=int(owner.get("pid", 0)))

    def _merge(self, rows: list, sample: dict | None) -> list:
        """New epochs and the progress sample, in the trainer's order: a sample of epoch e comes
        after every EpochDone before e and before EpochDone e; stale or repeated samples drop."""
        events = []
        fresh = sample is not None and sample["phase"] != "start" and sample["epoch"] > self._last_epoch \
            and (self._last_sample is None or sample_order(sample) > self._last_sample)
        for row in rows:
            if row["epoch"] <= self._last_epoch:
                continue
            if fresh and sample["epoch"] <= row["epoch"]:
                events.append(self._progress(sample))
                fresh = False
            events.append(EpochDone(self.run, row["epoch"], self.epochs, row))
            self._last_epoch = row["epoch"]
        if fresh and sample["epoch"] > self._last_epoch:
            events.append(self._progress(sample))
        return events

    def _progress(self, sample: dict) -> BatchProgress:
        self._last_sample = sample_order(sample)
        return BatchProgress(self.run, sample["epoch"], sample["batch"], sample["batches"],
                             sample.get("train_loss"), sample["phase"])

    def _check_writer(self) -> list:
        """Quiet for a while: is anyone still writing? (A status written just now still counts.)"""
        self._changed_at = self.clock()
        if self.writer_alive():
            return []
        status, problem = self._status()
        if status is not None or problem:
            self._stats.pop(STATUS, None)
            return self.poll()
        owner = owner_text(lock_owner(self.path))
        advice = resume_advice(f"interrupted after {self._last_epoch} finished epoch(s): {owner} is gone", self.path)
        return [self._end(RunEnded(self.run, "interrupted", advice.say(), self._last_epoch, str(self.path),
                                   advice=advice))]

    def _changed(self, name: str) -> bool:
        try:
            st = (self.path / name).stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if self._stats.get(name) == key:
            return False
        self._stats[name] = key
        self._changed_at = self.clock()
        return key is not None

    def _status(self) -> tuple[dict | None, str]:
        """(status.json, "") once the run has ended, (None, "") before, or (None, why) when it is
        malformed (core.schema) or a link. Writers replace it whole, so a read is never torn."""
        path = self.path / STATUS
        try:
            status = json.loads(read_text(path))
        except FileNotFoundError:  # not yet (or deleted): look again next poll
            self._stats.pop(STATUS, None)
            return None, ""
        except (OSError, ValueError) as e:
            return None, f"{path} is damaged ({getattr(e, 'strerror', None) or 'not valid JSON'})"
        problem = status_problem(status)
        return (None, f"{path} is damaged ({problem})") if problem else (status, "")

    def _damaged(self, problem: str) -> RunEnded:
        """A malformed record file ends the following (the writer, if alive, carries on)."""
        return self._end(RunEnded(self.run, "damaged", f"{problem}; it is followed no more: repair that file, "
                                  "or remove the run folder.", self._last_epoch, str(self.path), "damaged"))

    def _end(self, event: RunEnded) -> RunEnded:
        self.done = True
        return event


def _read_meta(path: Path) -> dict:
    """config.json, checked (core.schema); FollowError with one sentence when it is unusable."""
    meta, problem = read_meta(path)
    problem = problem or (link_problem(path) if meta is not None else "")
    if problem:
        raise FollowError(f"{problem}; the run cannot be followed.")
    if meta is not None:
        return meta
    raise FollowError(f"{path} is not a run folder (no {CONFIG}); give the folder of a run, "
                      "e.g. runs/quick-demo/baseline.")


def follow(run_dir, on_event, stop: threading.Event | None = None, interval: float = 0.2,
           first_epoch: int = 1) -> RunEnded | None:
    """Follow a run from this thread until it ends (returns its RunEnded) or `stop` is set (None)."""
    stop = stop or threading.Event()
    follower = Follower(run_dir, first_epoch)
    while True:
        for event in follower.poll():
            on_event(event)
            if isinstance(event, RunEnded):
                return event
        if stop.wait(interval):
            return None
