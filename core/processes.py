"""Runs in worker processes pinned to devices: the `processes` placement of core.executor.

Each worker trains one run with `core.lifecycle.train`; the parent watches it through
its run folder (core.placed), so it sees exactly what an attaching console sees.

    executor = ProcessExecutor(logdir="runs", parallel=2, devices=["cuda:0", "cuda:1"])
    ended = executor.run(jobs, on_event, stop)   # blocks; call it from a thread in a UI

A worker that crashes, runs out of memory or is killed fails only its run (the
parent writes `failed` with the cause when the worker could not); the queue goes
on. Setting `stop` stops every worker within a batch (SIGTERM: records stopped,
resumable); setting `hurry` as well makes them abandon the epoch at once. A parent killed
outright sends its workers that SIGTERM all the same (core.lifeline).
"""
from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from .advice import resume_advice
from .config import ConfigError, RunConfig
from .events import RunEnded, RunStarted
from .executor import Executor
from .follow import FollowError, Follower
from .job import Job
from .lifeline import die_with_parent
from .placed import Placed, prefetch
from .records import lock_owner, read_metrics, safe_name

POLL_S = 0.1  # how often running workers' folders are read when nothing else happens


def visible_devices() -> list[str]:
    """Every GPU this process can see, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return ["mps"]
    return ["cpu"]


def default_devices(configs) -> list[str]:
    """Where a queue goes without --devices: the device its runs name (all alike, e.g. cpu or
    cuda:1), else every visible GPU (auto, cuda, or runs that differ)."""
    settings = {c.device for c in configs}
    if len(settings) == 1 and next(iter(settings)) not in ("auto", "cuda"):
        return list(settings)
    return visible_devices()


def parse_devices(text: str) -> list[str]:
    """`cuda:0,cuda:1` -> checked, distinct device names; ConfigError with one sentence if not."""
    devices = []
    for name in (part.strip().lower() for part in text.split(",")):
        name = "cuda:0" if name == "cuda" else name
        problem = _device_problem(name)
        if problem:
            raise ConfigError(f"--devices: {problem}")
        if name in devices:
            raise ConfigError(f"--devices names {name} twice; name each device once "
                              "(runs share a device when --parallel is larger than the device count).")
        devices.append(name)
    return devices


def _device_problem(name: str) -> str | None:
    import torch

    if name == "cpu":
        return None
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        return None if mps and mps.is_available() else "mps asked for, but Apple's GPU is not available here; use cpu."
    match = re.fullmatch(r"cuda:(\d+)", name)
    if not match:
        return f"{name or 'an empty name'!s} is not a device; use cpu, cuda:N or mps, e.g. --devices cuda:0,cuda:1."
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if int(match.group(1)) >= count:
        have = f"this machine has {count} GPU(s) (cuda:0 to cuda:{count - 1})" if count else "no CUDA GPU is visible here"
        return f"{name} does not exist: {have}; leave --devices out to use every visible one."
    return None


@dataclass
class _Worker(Placed):
    index: int = 0
    process: multiprocessing.Process | None = None
    conn: object = None
    reported: RunEnded | None = None  # the RunEnded the worker sent itself
    signalled: int = 0                # SIGTERMs sent (1: stop, 2: abandon the epoch)
    closed: bool = False              # its pipe is at EOF: wait on its death only


@dataclass
class ProcessExecutor(Executor):
    """Runs up to `parallel` jobs at once, each in its own process pinned to one of `devices`
    (in turn: several runs share a device when `parallel` exceeds them; None: where the runs'
    device setting points, every visible GPU for auto). `threads`: torch CPU threads per worker
    (default: this process's threads split evenly between the workers)."""
    parallel: int = 1
    devices: list | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        # start the workers' helper process now: under Textual, sys.stderr has no descriptor to hand it
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()

    def run(self, jobs, on_event, stop=None, hurry=None) -> dict[str, RunEnded]:
        import torch

        stop, hurry = stop or threading.Event(), hurry or threading.Event()
        jobs = list(jobs)
        width = max(1, min(self.parallel, len(jobs)))
        threads = self.threads or max(1, torch.get_num_threads() // width)
        devices = self.devices or default_devices([job.config for job in jobs])
        ctx = multiprocessing.get_context("spawn")
        ended: dict[str, RunEnded] = {}
        pending, running = prefetch(jobs, on_event, ended, self.data_url, self.data_md5), []
        slots = list(range(width))
        try:
            while pending or running:
                while pending and slots and not stop.is_set():
                    slot = slots.pop(0)
                    running.append(self._spawn(ctx, pending.pop(0), slot, devices[slot % len(devices)], threads))
                if stop.is_set():
                    pending.clear()
                    self._signal(running, 2 if hurry.is_set() else 1)
                wait([w.conn for w in running if not w.closed] + [w.process.sentinel for w in running],
                     timeout=POLL_S)
                for w in list(running):
                    self._watch(w, on_event, stop)
                    if w.ended is not None and not w.process.is_alive():
                        w.process.join()
                        w.conn.close()
                        running.remove(w)
                        slots.append(w.index)
                        ended[w.job.key] = w.ended
        finally:  # an error here (e.g. in on_event) must not orphan the workers: stop them cleanly
            self._signal(running, 1)
            for w in running:
                w.process.join()
        return ended

    def _spawn(self, ctx, job: Job, slot: int, device: str, threads: int) -> _Worker:
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_worker_main, name=f"cifar-tui {job.name}", daemon=False,
                              args=(job.config.replace(device=device), self.train_kwargs(job), threads, send))
        with terminal_signals_ignored():
            process.start()
        send.close()  # the child holds its own end; EOF here then means it is gone
        return _Worker(job, index=slot, process=process, conn=receive, where={"worker": slot + 1})

    def _signal(self, running: list, level: int) -> None:
        for w in running:
            while w.signalled < level and w.process.is_alive():
                w.signalled += 1
                try:
                    os.kill(w.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    break

    def _watch(self, w: _Worker, on_event, stop: threading.Event) -> None:
        """Pass on a worker's events: what it sent, what its folder says, and its death."""
        alive = w.process.is_alive()  # before reading: whatever it wrote before dying is read below
        self._receive(w)
        w.poll(on_event)
        if alive or w.ended is not None:
            return
        w.process.join()
        self._receive(w)
        death = _death(w.process.exitcode)
        if w.follower is None:  # died before it named its folder: find the one it wrote into, if any
            w.follower = self._unannounced(w)
        if w.follower is None and w.job.resume_dir and w.reported is None and not stop.is_set():
            advice = resume_advice(f"the worker process {death} before it resumed {w.job.resume_dir}, which is "
                                   "unchanged", w.job.resume_dir, again=True)
            w.emit([RunEnded(w.job.name, "failed", advice.say(), cause="worker", advice=advice)], on_event)
            return
        if w.follower is None:  # it never started the run: what it said, or what killed it
            why = "stopped before the run began; nothing was recorded." if stop.is_set() else \
                f"the worker process {death} before the run began; nothing was recorded."
            w.emit([w.reported or RunEnded(w.job.name, "stopped" if stop.is_set() else "failed", why,
                                           cause="" if stop.is_set() else "worker")], on_event)
            return
        path = w.follower.path

        def died(done):  # it died mid-run: the parent writes the end
            return "failed", resume_advice(f"the worker process {death} after {done} finished epoch(s)", path), "worker"


        w.conclude(on_event, died, w.reported or RunEnded(w.job.name, "failed", f"the worker process {death}; "
                                                          f"see {path}.", run_dir=str(path), cause="worker"))

    def _unannounced(self, w: _Worker) -> Follower | None:
        """The run folder a dead worker had begun to write (its pid in the folder's lock: config.json
        is written then) before it could say so; None when it wrote none."""
        if w.job.resume_dir:
            candidates = [Path(w.job.resume_dir)]
        else:
            parent = Path(self.logdir, safe_name(w.job.experiment))
            candidates = sorted(parent.iterdir()) if parent.is_dir() else []
        for path in candidates:
            owner = lock_owner(path)
            if owner and owner.get("pid") == w.process.pid and owner.get("host") == socket.gethostname():
                try:
                    return Follower(path, len(read_metrics(path)) + 1, writer_alive=lambda: True)
                except FollowError:
                    return None
        return None

    def _receive(self, w: _Worker) -> None:
        try:
            while w.conn.poll():
                kind, event = w.conn.recv()
                if kind == "started":
                    w.follow(event.run_dir, event.first_epoch)
                else:
                    w.reported = event
        except (EOFError, OSError):  # the worker is gone; its death is handled by the caller
            w.closed = True


TERMINAL_SIGNALS = {getattr(signal, n) for n in ("SIGINT", "SIGHUP") if hasattr(signal, n)}


@contextmanager
def terminal_signals_ignored():
    """A worker starts with Ctrl-C and hang-ups ignored (the dispositions and the mask are
    inherited), so the terminal's signals reach only the parent, which decides what to stop."""
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in TERMINAL_SIGNALS} if main else {}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exited with code {exitcode}"


def _worker_main(config: RunConfig, kwargs: dict, threads: int, conn) -> None:
    """One run in a worker process. SIGTERM stops it within a batch, a second one abandons the
    epoch; Ctrl-C and hang-ups are the parent's to decide (it relays them as SIGTERM)."""
    stop = threading.Event()

    def on_term(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    die_with_parent(signal.SIGTERM)  # a parent killed outright: the run stops as on a stop, resumable
    for s in TERMINAL_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, TERMINAL_SIGNALS)
    import torch

    from .lifecycle import train

    torch.set_num_threads(threads)

    def tell(kind, event):
        try:
            conn.send((kind, event))
        except OSError:  # the parent is gone (e.g. a console that hung up): the record says it all
            pass

    def on_event(event):
        if isinstance(event, RunStarted):  # the folder now exists, is locked, and has progress.json
            tell("started", event)

    ended = train(config, on_event, stop, **kwargs)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the record is complete: a late signal changes nothing
    tell("ended", ended)
