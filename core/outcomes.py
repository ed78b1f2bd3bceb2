"""How a run that did not finish ends: one function from the exception to its outcome.

`outcome` is the whole table: for each exception a run can end with, its status,
cause (as status.json and RunEnded record it), the one sentence that says what to
do, and — as a value, core.advice.Advice — how the run carries on when it can
(`cifar-tui run --resume` in the sentence; each front end words it its own way).
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .advice import Advice, resume_advice
from .config import RunConfig
from .data import DataError
from .records import RecordError, ResumeRefused
from .trainer import Stopped


@dataclass(frozen=True)
class Outcome:
    status: str      # stopped or failed
    cause: str       # "" (stopped), data, refused, record, disk, oom or internal
    message: str     # one sentence: what happened and what to do (with `advice`, its words for a shell)
    resumable: bool  # the run's folder can carry on from its last checkpoint
    advice: Advice | None = None  # how it carries on (the resume target), when resumable


def _resumable(status: str, cause: str, advice: Advice) -> Outcome:
    return Outcome(status, cause, advice.say(), True, advice)


def outcome(e: BaseException, config: RunConfig, run_dir: str, done: int, recorded: bool) -> Outcome:
    """The outcome of a run that raised `e` after `done` finished epochs; `run_dir` is its folder
    ("" before it had one) and `recorded` says whether its record was open (a resume repairs it)."""
    if isinstance(e, (Stopped, KeyboardInterrupt)):  # KeyboardInterrupt: a second Ctrl-C abandons the epoch
        if not run_dir:
            return Outcome("stopped", "", "stopped before the run began; nothing was recorded.", False)
        return _resumable("stopped", "", resume_advice(f"stopped after {done} finished epoch(s)", run_dir))
    if isinstance(e, DataError):
        return Outcome("failed", "data", str(e), False)
    if isinstance(e, RecordError):  # refused: a resume target that is busy, damaged or inconsistent; nothing changed
        return Outcome("failed", "refused" if isinstance(e, ResumeRefused) else "record", str(e), False)
    if isinstance(e, OSError):
        return _io_problem(e, config, run_dir, recorded)
    if full := _disk_full(e):  # e.g. torch's RuntimeError over the ENOSPC of its own write
        return _io_problem(full, config, run_dir, recorded)
    if out_of_memory(e):
        return Outcome("failed", "oom", f"the GPU ran out of memory at batch_size {config.batch_size}; "
                       "try a smaller batch_size or close other GPU jobs.", False)
    # a bug, not a user error: the caller keeps the details in the run folder
    return Outcome("failed", "internal", f"internal error: {type(e).__name__}: {e}"
                   + (f" (details in {run_dir}/error.log)" if run_dir else ""), False)


def _io_problem(e: OSError, config: RunConfig, run_dir: str, recorded: bool) -> Outcome:
    """The outcome of an OSError from the data folder or the run's record."""
    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    why = "the disk is full" if full else (e.strerror or str(e))
    fix = "free some space" if full else "make the folder writable"
    in_data = isinstance(e.filename, str) and Path(os.path.abspath(e.filename)).is_relative_to(
        os.path.abspath(config.data_dir))
    if in_data:
        return Outcome("failed", "data", f"cannot use the data folder {config.data_dir} ({why}); {fix}, "
                       "or choose another folder with --data-dir.", False)
    if recorded:
        return _resumable("failed", "disk", resume_advice(f"could not write the run's record ({why})", run_dir, fix))
    return Outcome("failed", "disk", f"could not write the run's record ({why}); {fix}, or choose another --logdir.",
                   False)


def _disk_full(e: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError behind `e` (as its cause or context), if there is one."""
    for _ in range(5):
        e = e.__cause__ or e.__context__
        if e is None:
            return None
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return e
    return None


def out_of_memory(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e))  # MPS says it this way
