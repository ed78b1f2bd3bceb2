"""`cifar-tui run --ray [ADDRESS]`: a queue of runs as Ray tasks, printed as `run` prints one.

Ray's start-up (or joining the cluster), the GPU check and the shared log dir check come
first; any of them failing is one sentence (exit 2) with nothing started. Then the first
Ctrl-C, SIGTERM or hang-up stops every run within a batch (records stopped, resumable), a
second abandons their epochs at once; the process waits for the runs and exits 128 + the
first signal's number.
"""
from __future__ import annotations

from rich.console import Console

from core.job import queue_of
from core.ray_cluster import connect
from core.ray_executor import RayExecutor
from tui.parallel import run_placed


def run_ray(jobs, *, logdir: str, experiment: str, address: str | None, device: str | None = None,
            runs_per_gpu: int | None = None, data_url=None, data_md5=None, resume_dir=None,
            console: Console | None = None) -> int:
    """Run jobs (core.job.Job, or (run name, RunConfig) pairs) on the Ray cluster at `address`
    (None: a local instance); returns the exit code."""
    queue = queue_of(jobs, experiment, resume_dir)
    cluster = connect(address)
    try:
        executor = RayExecutor(logdir, data_url, data_md5, cluster=cluster, device=device, runs_per_gpu=runs_per_gpu)
        executor.check(queue, resume_dir)
        return run_placed(executor, queue, console or Console(highlight=False))
    finally:
        cluster.close()
