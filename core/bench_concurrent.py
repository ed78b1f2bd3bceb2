"""How well runs pack onto one device: k runs training at once, aggregate images/s per k.

Each of the k runs is a worker process as `--parallel` starts them (spawned,
CPU threads split evenly), with its own model and copy of the data on the
device. After an untimed warm-up epoch all k wait at a barrier, then each times
`repeats` training epochs of the trainer's own epoch function; the aggregate is
every image trained over the span from the first start to the last finish.

k is bounded (`concurrent_problem`): one run per CPU core on the CPU, MAX_PER_GPU on a GPU.
The workers end with the bench, however it ends (core.lifeline), and leave Ctrl-C and
hang-ups to it.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass

from .config import RunConfig
from .processes import terminal_signals_ignored
from .lifeline import die_with_parent

MAX_PER_GPU = 16  # runs of this small CNN one GPU packs usefully; each is a process of ~0.5 GB of host memory


@dataclass(frozen=True)
class ConcurrentResult:
    k: int                    # runs at once
    images_per_s: float       # all k together (0 when it failed)
    threads: int              # torch CPU threads per run
    error: str = ""           # why this k could not be measured, e.g. out of memory

    def per_run(self) -> float:
        return self.images_per_s / self.k


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def concurrent_problem(ks: list[int], device) -> str | None:
    """Why running max(ks) runs at once on `device` (a torch.device) makes no sense here (one
    sentence), or None: more runs than CPU cores only time-slice them, and every run is a process."""
    k = max(ks)
    if device.type == "cpu":
        limit, why = usable_cores(), f"this machine's {usable_cores()} CPU core(s) (one run per core)"
    else:
        limit, why = MAX_PER_GPU, f"one {device.type} device packs usefully ({MAX_PER_GPU})"
    if k <= limit:
        return None
    fit = ",".join(str(n) for n in sorted({n for n in (1, 2, 4, 8) if n < limit} | {limit}))
    return f"--concurrent: {k} runs at once is more than {why}; use at most {limit}, e.g. --concurrent {fit}."


def measure_concurrent(config: RunConfig, ks: list[int], train_images: int, test_images: int,
                       repeats: int = 1) -> list[ConcurrentResult]:
    import torch

    total_threads = torch.get_num_threads()
    return [_measure_k(config, k, train_images, test_images, repeats, max(1, total_threads // k)) for k in ks]


def _measure_k(config, k, train_images, test_images, repeats, threads) -> ConcurrentResult:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Queue()
    workers = [ctx.Process(target=_bench_worker, daemon=True,
                           args=(config, train_images, test_images, repeats, threads, barrier, results))
               for _ in range(k)]
    spans, errors = [], []
    try:
        with terminal_signals_ignored():  # Ctrl-C reaches only this process, which ends them all
            for w in workers:
                w.start()
        for _ in range(k):
            outcome = _next_result(results, workers)
            (errors if isinstance(outcome, str) else spans).append(outcome)
            if errors:
                barrier.abort()  # the others must not wait for a worker that is gone
                break
    except BaseException:  # e.g. Ctrl-C: no worker outlives the bench
        for w in workers:
            if w.pid is not None:
                w.kill()
        raise
    finally:
        for w in workers:
            if w.pid is not None:
                w.join()
    if errors:
        return ConcurrentResult(k, 0.0, threads, errors[0])
    images = sum(n for n, _, _ in spans)
    return ConcurrentResult(k, images / (max(e for _, _, e in spans) - min(s for _, s, _ in spans)), threads)


def _next_result(results, workers):
    """The next worker's (images, start, end) or error text; a worker dead without one is an error."""
    import queue

    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:
                return f"a run's process died (exit code {dead[0].exitcode})"


def _bench_worker(config, train_images, test_images, repeats, threads, barrier, results) -> None:
    die_with_parent(signal.SIGKILL)  # nothing to save: a timing is worthless without the bench
    import threading

    import torch

    from .bench import _sync, bench_data
    from .outcomes import out_of_memory
    from .trainer import means, prepare, resolve_device, train_epoch

    try:
        torch.set_num_threads(threads)
        device = resolve_device(config.device)
        dataset, _ = bench_data(config, train_images, test_images)
        run = prepare(config, dataset, device)
        stop = threading.Event()

        def epoch():
            means(train_epoch(run, 1, lambda event: None, stop, "bench"))  # ending in the trainer's one sync

        epoch()  # warm-up: allocator, cudnn autotune, compile
        _sync(device)
        barrier.wait()
        start = time.monotonic()  # one clock for every process on the box
        for _ in range(repeats):
            epoch()
        _sync(device)
        results.put((repeats * len(dataset.train_y), start, time.monotonic()))
    except threading.BrokenBarrierError:
        return
    except Exception as e:  # reported, not raised: the next k still gets measured
        results.put("out of memory" if out_of_memory(e) else f"{type(e).__name__}: {e}")
