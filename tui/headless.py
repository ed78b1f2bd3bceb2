"""`cifar-tui run`: a preset's runs (or one config) in turn, with a rich progress bar.

SIGINT, SIGTERM and SIGHUP set the trainer's stop flag: the current batch
ends, the finished epochs and their checkpoint stay on disk, the logs are
closed, and the process exits 128 + the signal number. A second signal
abandons the epoch at once (e.g. during a long evaluation); finished epochs
are still kept. A console's `x` on one run (a stop request in its folder) ends that run
`stopped` and the queue goes on.
"""
from __future__ import annotations

import os
import re
import signal
import threading
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from core.data import SharedData
from core.events import BatchProgress, EpochDone, RunEnded, RunStarted
from core.job import queue_of
from core.lifecycle import train
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
def stop_on_signals(stop: threading.Event):
    """While inside, the stop signals set `stop`; yields a list that receives the signal number."""
    caught: list[int] = []

    def handler(signum, _frame):
        caught.append(signum)
        if stop.is_set():  # asked twice: do not wait for the batch or evaluation to end
            raise KeyboardInterrupt
        stop.set()
        try:
            os.write(2, b"\nstopping after the current batch (signal again to abandon the epoch now)\n")
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


def run_queue(jobs, *, logdir: str, experiment: str, data_url=None, data_md5=None,
              resume_dir=None, console: Console | None = None) -> int:
    """Run jobs (core.job.Job, or (run name, RunConfig) pairs) in turn; returns the process exit
    code (see cli's docstring). The runs share one loaded copy of the data set (core.data.SharedData)."""
    console = console or Console(highlight=False)
    data = SharedData(data_url, data_md5)
    stop = threading.Event()
    ended = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with stop_on_signals(stop) as caught, Progress(*columns, console=console, transient=True) as progress:
        printer = _Printer(console, progress)
        try:
            for job in queue_of(jobs, experiment, resume_dir):
                ended.append(train(job.config, printer, stop, logdir=logdir, experiment=job.experiment, run=job.name,
                                   group=job.group, data=data, resume_dir=job.resume_dir))
                if caught:
                    break
        except KeyboardInterrupt:  # a second signal outside a run
            pass
    if caught:
        for s in STOP_SIGNALS:  # records are complete: a further signal must not kill the exit
            signal.signal(s, signal.SIG_IGN)
    return exit_code(ended, caught)
