"""`cifar-tui run --parallel N`: a queue of runs in worker processes, printed as `run` prints one.

The first Ctrl-C, SIGTERM or hang-up stops every worker within a batch (records
stopped, resumable); a second abandons their epochs at once. Either way the
process waits for its workers and exits 128 + the first signal's number.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from core.executor import ProcessExecutor, default_devices
from core.job import Job, queue_of
from tui.exitcodes import exit_code
from tui.headless import STOP_SIGNALS, _Printer, silence_terminal


@contextmanager
def stop_and_hurry_on_signals(stop: threading.Event, hurry: threading.Event):
    """Signals set `stop`, then `hurry`; never raise in this process (its workers must be waited
    for). Yields the list of signal numbers caught."""
    caught: list[int] = []

    def handler(signum, _frame):
        caught.append(signum)
        (hurry if stop.is_set() else stop).set()
        note = b"\nabandoning the epochs now\n" if hurry.is_set() else \
            b"\nstopping every run after its current batch (signal again to abandon the epochs now)\n"
        try:
            os.write(2, note)
        except OSError:  # the terminal hung up
            silence_terminal()

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_parallel(jobs, *, logdir: str, experiment: str, parallel: int, devices: list[str] | None = None,
                 data_url=None, data_md5=None, resume_dir=None, console: Console | None = None) -> int:
    """Run jobs (core.job.Job, or (run name, RunConfig) pairs) `parallel` at a time on `devices`
    (default: where the runs' device setting points, every visible GPU for auto); returns the exit code."""
    queue = queue_of(jobs, experiment, resume_dir)
    devices = devices or default_devices([job.config for job in queue])
    executor = ProcessExecutor(logdir, data_url, data_md5, parallel=parallel, devices=devices)
    return run_placed(executor, queue, console or Console(highlight=False))


def run_placed(executor, queue: list[Job], console: Console) -> int:
    """Run `queue` on an executor that places runs elsewhere (worker processes, Ray tasks), printing
    as `run` prints one run; the first stop signal stops every run, a second abandons their epochs.
    Returns the exit code."""
    stop, hurry = threading.Event(), threading.Event()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with stop_and_hurry_on_signals(stop, hurry) as caught, \
            Progress(*columns, console=console, transient=True) as progress:
        printers = {job.key: _Printer(console, progress) for job in queue}
        ended = executor.run(queue, lambda key, event: printers[key](event), stop, hurry)
    if caught:
        for s in STOP_SIGNALS:  # records are complete: a further signal must not kill the exit
            signal.signal(s, signal.SIG_IGN)
    return exit_code(ended.values(), caught)


def format_concurrent(results, config) -> str:
    """`cifar-tui bench --concurrent`: one row per k, the aggregate next to k = 1's."""
    base = next((r.images_per_s for r in results if r.k == 1 and not r.error), None)
    lines = [f"device={config.device} batch_size={config.batch_size} augment={config.augment} "
             f"normalize={config.normalize} precision={config.precision} compile={config.compile}",
             f"{'k':>3}{'threads/run':>13}{'img/s (all)':>14}{'img/s per run':>15}{'vs k=1':>9}"]
    for r in results:
        if r.error:
            lines.append(f"{r.k:>3}{r.threads:>13}  failed: {r.error}")
            continue
        ratio = f"{r.images_per_s / base:8.2f}x" if base else f"{'-':>9}"
        lines.append(f"{r.k:>3}{r.threads:>13}{r.images_per_s:14.1f}{r.per_run():15.1f}{ratio}")
    lines.append("img/s (all) is every image the k runs trained, over the span from the first start to the last end.")
    return "\n".join(lines)


def print_concurrent(results, config) -> None:
    print(format_concurrent(results, config), flush=True)
