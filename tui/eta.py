"""How long the running run and the whole queue still take, from the epoch times measured so
far (plain Python: the console model uses it, the progress line only draws the result)."""
from __future__ import annotations

from statistics import fmean

RECENT_EPOCHS = 5  # the epoch time is the mean of this many latest epochs (speed can drift)


def epoch_seconds(rows: list[dict], elapsed: float, batch: int, batches: int) -> float | None:
    """Seconds one epoch takes: measured on the run's latest finished epochs; before the
    first one ends, this epoch's batches so far extrapolated (without its evaluation)."""
    measured = [r["seconds"] for r in rows[-RECENT_EPOCHS:] if r.get("seconds")]
    if measured:
        return fmean(measured)
    return elapsed / batch * batches if batch > 0 and elapsed > 0 else None


def run_left(epoch_s: float, elapsed: float, epochs_after: int) -> float:
    """Seconds left in a run: the rest of this epoch (at least nothing) and `epochs_after` more."""
    return max(epoch_s - elapsed, 0.0) + epoch_s * epochs_after


def queue_left(epoch_s: float, running: dict, jobs, on_record) -> float:
    """Seconds the queued `jobs` take at the pace of the run training now (its config `running`,
    `epoch_s` an epoch): a run with a smaller share of the same data trains faster; a resumed
    one trains only the epochs it lacks (`on_record(job)`: its epochs on record)."""
    total = 0.0
    for job in jobs:
        same = job.config.dataset == running.get("dataset") and running.get("train_fraction")
        scale = job.config.train_fraction / running["train_fraction"] if same else 1.0
        done = on_record(job) if job.resume_dir else 0
        total += epoch_s * scale * max(job.config.epochs - done, 0)
    return total
