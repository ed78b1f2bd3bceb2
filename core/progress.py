"""The run's progress file: where a running run is within its epoch, for followers.

`progress.json` in the run folder is rewritten (atomically, without fsync: it is
advisory and a crash may lose it) at the run's start and at each batch-progress
sample the trainer emits, which the trainer already limits to about ten a second.
Finished epochs are in metrics.jsonl and the end in status.json; this file only
says what happens in between.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .events import BatchProgress, RunStarted
from .records import PROGRESS, atomic_write, read_object
from .schema import PHASES, progress_problem


def read_progress(run_dir) -> dict | None:
    """The run's last progress sample, or None (none written yet, or unusable)."""
    return checked_progress(run_dir)[0]


def checked_progress(run_dir) -> tuple[dict | None, str]:
    """(the last progress sample, "") or (None, "") when there is none yet, or (None, one
    phrase naming the file) when it is malformed or a link."""
    path = Path(run_dir) / PROGRESS
    return read_object(path, progress_problem)


def sample_order(sample: dict) -> tuple:
    """Sorts samples as the trainer emits them: by epoch, then phase, then batch."""
    return sample["epoch"], PHASES.index(sample["phase"]), sample["batch"]


class ProgressWriter:
    """Wraps the trainer's event callback: writes the progress file, then passes the event on
    (so whoever hears of a RunStarted can already read the file)."""

    def __init__(self, run_dir, on_event):
        self.path = Path(run_dir) / PROGRESS
        self.on_event = on_event
        self.run = {}  # the run-wide part, repeated in every sample
        for stale in self.path.parent.glob(f".{PROGRESS}.*"):  # temp files of a killed writer
            stale.unlink(missing_ok=True)

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self.run = {"device": event.device, "first_epoch": event.first_epoch, "epochs": event.epochs}
            self._write(event.first_epoch, 0, event.batches, None, "start")
        elif isinstance(event, BatchProgress):
            self._write(event.epoch, event.batch, event.batches, event.train_loss, event.phase)
        self.on_event(event)

    def _write(self, epoch, batch, batches, train_loss, phase) -> None:
        sample = {"epoch": epoch, "batch": batch, "batches": batches, "train_loss": train_loss,
                  "phase": phase, "time": time.time(), **self.run}
        try:
            atomic_write(self.path, lambda f: f.write(json.dumps(sample).encode()), sync=False)
        except OSError:  # advisory: a full disk fails the run at its next epoch, not here
            pass
