"""`cifar-tui run`: a preset's runs (or one config), in turn here or placed elsewhere (worker
processes, Ray tasks: core.placement), with a rich progress bar and one line per epoch.

SIGINT, SIGTERM and SIGHUP stop every run in training: the current batch
ends, the finished epochs and their checkpoint stay on disk, the logs are
closed, and the process exits 128 + the first signal's number (after waiting for
its workers, if any). A second signal abandons the epochs at once (e.g. during a
long evaluation); finished epochs are still kept. A console's `x` on one run (a stop
request in its folder) ends that run `stopped` and the queue goes on.
"""
from __future__ import annotations

import os
import re
import signal
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from core.drain import drain
from core.events import BatchProgress, EpochDone, RunEnded, RunNote, RunStarted
from core.job import queue_of
from core.jobqueue import JobQueue
from core.placement import Placement, make_executor
from tui.exitcodes import exit_code

STOP_SIGNALS = [s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s]


def epoch_line(run: str, m: dict, epochs: int) -> str:
    width = len(str(epochs))
    return (f"{run}  epoch {m['epoch']:>{width}}/{epochs}  "
            f"train loss {m['train_loss']:.4f} acc {m['train_acc']:.4f}  "
            f"test loss {m['test_loss']:.4f} acc {m['test_acc']:.4f}  {m['seconds']:.1f}s")


class _Printer:
    """Turns trainer events into a progress bar and one line per epoch."""

    def __init__(self, console: Console, progress: Progress):
        self.console, self.progress, self.task = console, progress, None
        self.hung_up = False

    def __call__(self, event) -> None:
        if self.hung_up:
            return
        try:
            self._show(event)
        except OSError:  # the terminal went away (SIGHUP over SSH): keep training, stop printing
            self.hung_up = True
            silence_terminal()

    def _show(self, event) -> None:
        if isinstance(event, RunStarted):
            self.console.print(f"[bold]{escape(event.experiment)}/{escape(event.run)}[/] on {event.device} "
                               f"-> {escape(event.run_dir)}" + (f" (resuming at epoch {event.first_epoch})"
                                                        if event.first_epoch > 1 else ""), soft_wrap=True)
            self.task = self.progress.add_task(escape(event.run), total=event.batches)
        elif isinstance(event, BatchProgress) and self.task is not None:
            self.progress.update(self.task, completed=event.batch,
                                 description=f"{escape(event.run)} epoch {event.epoch}")
        elif isinstance(event, EpochDone):
            self.console.print(epoch_line(event.run, event.metrics, event.epochs), soft_wrap=True, markup=False)
        elif isinstance(event, RunNote):
            self.console.print(f"{escape(event.run)}: {escape(event.message)}", soft_wrap=True)
        elif isinstance(event, RunEnded):
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.task = None
            style = {"finished": "green", "stopped": "yellow"}.get(event.status, "red")
            self.console.print(f"{escape(event.run)}: [{style}]{escape(ended_text(event.status, event.message))}[/]",
                               soft_wrap=True)


def ended_text(status: str, message: str) -> str:
    """`finished 5 epochs.` rather than `finished — finished 5 epochs.`"""
    if not message:
        return status
    if re.search(rf"\b{re.escape(status)}\b", message):
        return message
    return f"{status} — {message}"


def silence_terminal() -> None:
    """The terminal is gone: point stdout and stderr at /dev/null, so that later writes (rich's
    live display, the flush at exit) cannot fail and turn a clean stop into a crash."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


@contextmanager
def stop_on_signals(queue: JobQueue, here: bool = True):
    """While inside, the stop signals halt `queue`: its runs in training stop within a batch and
    nothing more starts. A second signal abandons the epoch at once: KeyboardInterrupt where the
    run trains in this thread (`here`), else the queue's hurry flag (never raise: the workers must
    be waited for). Yields the list that receives the signal numbers."""
    caught: list[int] = []

    def handler(signum, _frame):
        caught.append(signum)
        if len(caught) > 1 and here:  # asked twice: do not wait for the batch or evaluation to end
            raise KeyboardInterrupt
        queue.halt(hurry=len(caught) > 1)
        note = (b"\nabandoning the epochs now\n" if len(caught) > 1 else
                b"\nstopping after the current batch (signal again to abandon the epoch now)\n" if here else
                b"\nstopping every run after its current batch (signal again to abandon the epochs now)\n")
        try:
            os.write(2, note)
        except OSError:  # the terminal hung up
            silence_terminal()

    previous = {}
    for s in STOP_SIGNALS:
        try:
            previous[s] = signal.signal(s, handler)
        except ValueError:  # not the main thread
            pass
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_queue(jobs, *, logdir: str, experiment: str | None, placement: Placement = Placement(), data_url=None,
              data_md5=None, resume_dir=None, console: Console | None = None) -> int:
    """Run jobs (core.job.Job, or (run name, RunConfig) pairs) where `placement` says (default: in
    turn, here, sharing one loaded copy of the data set); returns the process exit code
    (tui.exitcodes). Placing elsewhere (Ray) is checked first: one sentence (ConfigError), nothing started."""
    console = console or Console(highlight=False)
    queue = JobQueue()
    queue.put(queue_of(jobs, experiment, resume_dir))
    ended: dict = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    resumed = resume_dir or next((job.resume_dir for job in queue.pending() if job.resume_dir), None)  # Ray checks it
    with make_executor(placement, logdir, data_url, data_md5, queue.pending(), resumed) as executor, \
            stop_on_signals(queue, executor.here) as caught, \
            Progress(*columns, console=console, transient=True) as progress:
        printers = {job.key: _Printer(console, progress) for job in queue.pending()}
        if note := getattr(executor, "note", ""):  # e.g. who writes a Ray cluster's records
            console.print(note)

        def on_event(key, event):
            if isinstance(event, RunEnded):
                ended[key] = event
            printers[key](event)

        try:
            dropped = drain(queue, executor, on_event).dropped
        except KeyboardInterrupt:  # a second signal outside a run
            dropped = []
        if dropped:  # they would fail as the run before them did
            console.print(f"Not run, for want of CIFAR-10: {escape(', '.join(j.name for j in dropped))}.",
                          soft_wrap=True)
    if caught:
        for s in STOP_SIGNALS:  # records are complete: a further signal must not kill the exit
            signal.signal(s, signal.SIG_IGN)
    return exit_code(ended.values(), caught)
