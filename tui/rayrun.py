"""`cifar-tui run --ray [ADDRESS]`: a queue of runs as Ray tasks, printed as `run` prints one.

Ray's start-up (or joining the cluster), the GPU check and the shared log dir check come
first; any of them failing is one sentence (exit 2) with nothing started. Then the first
Ctrl-C, SIGTERM or hang-up stops every run within a batch (records stopped, resumable), a
second abandons their epochs at once; the process waits for the runs and exits 128 + the
first signal's number.
"""
from __future__ import annotations

import signal
import threading

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from core.executor import Job
from core.ray_executor import RayExecutor, connect
from core.seeds import Job as SeedJob
from tui.headless import STOP_SIGNALS, _Printer
from tui.parallel import stop_and_hurry_on_signals


def run_ray(jobs, *, logdir: str, experiment: str, address: str | None, device: str | None = None,
            runs_per_gpu: int | None = None, data_url=None, data_md5=None, resume_dir=None,
            console: Console | None = None) -> int:
    """Run jobs (core.seeds.Job, or (run name, RunConfig) pairs) on the Ray cluster at `address`
    (None: a local instance); returns the exit code."""
    console = console or Console(highlight=False)
    queue = [Job(str(i), job.name, job.config, experiment, resume_dir, job.group)
             for i, job in enumerate(SeedJob(*job) for job in jobs)]
    cluster = connect(address)
    try:
        executor = RayExecutor(logdir, data_url, data_md5, cluster=cluster, device=device, runs_per_gpu=runs_per_gpu)
        executor.check(queue, resume_dir)
        return _run(executor, queue, console)
    finally:
        cluster.close()


def _run(executor: RayExecutor, queue: list, console: Console) -> int:
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
        return 128 + caught[0]
    return 1 if any(e.status in ("failed", "diverged") for e in ended.values()) else 0
