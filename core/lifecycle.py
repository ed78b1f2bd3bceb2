"""One run's lifecycle around the training loop: take its folder, record it, checkpoint it, end it.

`train(config, on_event, stop)` is the only entry point. It never raises for
anything a user can cause: it ends with a RunEnded event (and returns it)
whose status is finished, stopped, failed or diverged and whose message says
what to do (core.outcomes). Finished epochs are on disk, with their checkpoint,
before their EpochDone event is sent. The loop itself is core.trainer's.
"""
from __future__ import annotations

import math
import os
import socket
import threading
import time
import traceback
from pathlib import Path

import torch

from . import data as data_mod, stoprequest, trainer as loop
from .advice import Advice
from .config import RunConfig
from .events import EpochDone, RunEnded, RunStarted
from .outcomes import outcome
from .precision import resolve_precision
from .progress import ProgressWriter
from .records import (LOCK, ResumeRefused, RunRecord, atomic_write, default_logdir, new_run_dir, probe_writable,
                      read_meta, read_run, take_lock, write_status)
from .resume import changed_settings, first_epoch, keep_precision, load_checkpoint, load_run_config


def train(config: RunConfig, on_event=None, stop: threading.Event | None = None, *,
          logdir: str | None = None, experiment: str = "custom", run: str = "run",
          dataset: data_mod.Dataset | None = None, data_url: str | None = None,
          data_md5: str | None = None, resume_dir=None, group: str | None = None,
          data: data_mod.SharedData | None = None, folder: str | None = None) -> RunEnded:
    """Train one run and record it. Returns (and emits) the RunEnded event.

    With `resume_dir` it carries on from that run folder's checkpoint; `config` may
    differ from the stored one only in resume.CHANGEABLE (e.g. more epochs). `group` (default:
    the run's name) is recorded in config.json: the seeds of one run share it. `data` shares
    the data set, and its copy on the device, with the other runs of a queue. `folder`: the run
    folder a queue promised the run (records.new_run_dir: another name if it was taken since).
    """
    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    record, done, run_dir, r, lock = None, 0, "", None, None
    try:
        device = loop.resolve_device(config.device)
        if resume_dir is not None:  # check the run folder before a possibly long data load
            path = Path(resume_dir)
            run_dir = str(path)
            lock, config, state, first, changed_meta = take_resume(path, config)
            stop = stoprequest.StopFlag(path, stop)
            done = first - 1
            if first > config.epochs:
                return already_finished(emit, path, run, first - 1)
        config = resolve_precision(config, device)  # once per run; config.json records the result
        if dataset is None:
            dataset = (data or data_mod.SharedData(data_url, data_md5)).load(config, device)
        else:
            dataset = dataset.head(config.train_fraction)
        if stop.is_set():  # stopped while the data loaded: leave no empty run folder behind
            raise loop.Stopped
        if resume_dir is not None:
            rows = state["metrics"] if state else []
            record = RunRecord(path, changed_meta, resume_from=first, rows=rows, lock=lock)
        else:
            meta = run_meta(config, device, dataset, experiment, run, group)
            path = new_run_dir(logdir or default_logdir(), experiment, run, folder)
            run_dir = str(path)
            stop = stoprequest.StopFlag(path, stop)  # x on this run (a request file) stops it, not its queue
            state, first, rows = None, 1, []
            record = RunRecord(path, meta)
        emit = ProgressWriter(path, emit)  # progress.json: followers of the folder see the epoch advance
        r = loop.prepare(config, dataset, device)
        if state:
            loop.apply_checkpoint(r, state)
        emit(RunStarted(run, experiment, run_dir, config.epochs,
                        math.ceil(len(dataset.train_y) / config.batch_size), str(device), first,
                        config.precision, host=socket.gethostname(), pid=os.getpid()))  # as its lock says
        for epoch in range(first, config.epochs + 1):
            row = loop.run_epoch(r, epoch, emit, stop, run)
            if not all(math.isfinite(v) for v in row.values()):
                return _end(emit, record, run, "diverged", done, run_dir, diverged_message(epoch))
            record.log_epoch(row)
            rows.append(row)
            record.save_checkpoint(loop.checkpoint(r, epoch, rows))  # every epoch: a stop loses at most one
            done = epoch
            emit(EpochDone(run, epoch, config.epochs, row))
        return _end(emit, record, run, "finished", done, run_dir, finished_message(done))
    except (loop.Stopped, KeyboardInterrupt, Exception) as e:
        ended = outcome(e, config, run_dir, done, record is not None)
        if ended.cause == "internal":  # a bug, not a user error: keep the details in the run folder
            _write_crash(run_dir)
        if ended.cause != "oom":
            return _end(emit, record, run, ended.status, done, run_dir, ended.message, ended.cause, ended.advice)
    finally:
        if record is None and lock is not None:  # a record closes its lock itself, after its status
            lock.close()
    # Out of GPU memory. Only now, with the exception and its traceback gone, can the
    # run's tensors be freed, so the next run (or the app) gets the memory back.
    del r
    _free_device_memory()
    return _end(emit, record, run, ended.status, done, run_dir, ended.message, ended.cause, ended.advice)


def take_resume(path: Path, config: RunConfig) -> tuple:
    """The checks before a run folder is resumed: (its lock, held from the checks on so that no
    other run writes the folder meanwhile; the config as the run began, "auto" precision kept;
    its checkpoint or None; the epoch to start at; the config.json to write or None).
    ResumeRefused, with nothing changed and no lock held, when it cannot carry on as asked."""
    lock = _lock_to_resume(path)
    stoprequest.clear(path)  # a request left from an earlier writer must not stop this resume
    try:
        config = keep_precision(load_run_config(path)[0], config)
        return (lock, config, *_resume_state(path, config))
    except BaseException:
        lock.close()
        raise


def run_meta(config: RunConfig, device, dataset, experiment: str, run: str, group: str | None) -> dict:
    """config.json of a new run."""
    return {"experiment": experiment, "run": run, "group": group or run, "config": config.to_dict(),
            "device": str(device), "started": time.time(), "torch": torch.__version__, **_versions(),
            "train_images": len(dataset.train_y), "test_images": len(dataset.test_y)}


def diverged_message(epoch: int) -> str:
    return f"diverged at epoch {epoch}: the loss became NaN or infinite; lower the learning rate (lr)."


def finished_message(done: int) -> str:
    return f"finished {done} epoch{'s' * (done != 1)}."


def _resume_state(path: Path, config: RunConfig) -> tuple[dict | None, int, dict | None]:
    """The checkpoint of the run at `path` (None before its first epoch ended), the epoch to
    start at, and the config.json to write if `config` changes it (None if unchanged).
    ResumeRefused, with nothing written, when the run cannot carry on as asked."""
    stored, _, _ = load_run_config(path)
    refused = changed_settings(stored, config)
    if refused:
        raise ResumeRefused(f"{refused[0]} cannot change when resuming {path}; start a new run instead.")
    state = load_checkpoint(path)
    first = first_epoch(path, state)
    if config.epochs < first - 1:
        raise ResumeRefused(f"{path} has {first - 1} finished epochs, more than epochs={config.epochs}; "
                            f"resume with epochs={first - 1} or more.")
    if config == stored:
        return state, first, None
    meta = read_meta(path)[0]  # checked by load_run_config above
    return state, first, {**meta, "config": config.to_dict(), "resumed": time.time()}


def _lock_to_resume(path: Path):
    """The lock of a run folder to resume, once the folder is known to be writable; ResumeRefused
    (nothing changed) when it is not: a resume target that cannot be used, not a full disk."""
    try:
        lock = take_lock(path)
    except IsADirectoryError:
        raise ResumeRefused(f"{path / LOCK} is a folder, not the run's lock file; remove it (rmdir), "
                            f"then resume again.") from None
    except OSError as e:
        raise ResumeRefused(f"{path} cannot be written ({e.strerror or e}); make it writable, then resume again.") from None
    try:
        probe_writable(path)
    except OSError as e:
        lock.close()
        raise ResumeRefused(f"{path} cannot be written ({e.strerror or e}); make it writable, then resume again.") from None
    return lock


def already_finished(emit, path: Path, run: str, done: int) -> RunEnded:
    """Resuming a run that has all its epochs: nothing to train; make its status say so."""
    advice = Advice("done", f"already finished all {done} epochs; nothing to do", str(path))
    if read_run(path).status != "finished":  # killed after its last checkpoint
        write_status(path, "finished", f"finished {done} epoch{'s' * (done != 1)}.", done)
    event = RunEnded(run, "finished", advice.say(), done, str(path), advice=advice)
    emit(event)
    return event


def _versions() -> dict:
    """torchvision's and cifar-tui's versions, for the report's environment."""
    from importlib import metadata

    import torchvision

    try:
        ours = metadata.version("cifar-tui")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        ours = "unknown"
    return {"torchvision": torchvision.__version__, "cifar_tui": ours}


def _end(emit, record, run, status, done, run_dir, message, cause="", advice=None) -> RunEnded:
    if record is not None:
        try:
            record.finish(status, message, done, cause, advice)
        except OSError:
            pass
        stoprequest.clear(run_dir)  # answered (or too late): gone before the lock is
        record.close()
    event = RunEnded(run, status, message, done, run_dir, cause, advice)
    emit(event)
    return event


def _write_crash(run_dir: str) -> None:
    if not run_dir:
        return
    try:
        text = traceback.format_exc().encode()
        atomic_write(Path(run_dir, "error.log"), lambda f: f.write(text), sync=False)  # a new file: never through a link
    except OSError:
        pass


def _free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        torch.mps.empty_cache()
