"""What a Ray task runs when the driver keeps the records (core.ray_records): the training loop
of core.lifecycle.train, with the record sent to the driver through Ray instead of written here.

The task never touches the log dir. It loads its data, starts from the state it is given (none,
or the last checkpoint the driver holds), and posts, in order, to the study's mailbox actor:

    ("where", node id, node IP, pid)   first: where this attempt runs
    ("open", config.json or None)      where a local run makes its folder (None: the driver has it)
    ("event", RunStarted|BatchProgress)
    ("epoch", metrics row, checkpoint)  each finished epoch, checkpoint.pt's bytes; sent before
                                        the next epoch begins (as a local run writes them first)
    ("end", status, message, epochs)   finished or diverged
    ("raised", exception, traceback, epochs, opened)   anything else: the driver maps it
                                        (core.outcomes) with the run folder it knows

Every post's reply says whether the driver wants the run stopped: that is how a stop arrives.
"""
from __future__ import annotations

import io
import math
import pickle
import threading
import traceback

from . import data as data_mod, trainer as loop
from .config import RunConfig
from .events import RunStarted
from .lifecycle import _free_device_memory, diverged_message, finished_message, run_meta
from .precision import resolve_precision
from .records import checkpoint_bytes

POST_EVERY_S = 0.2  # how often a task posts its events (and so learns of a stop) at the latest


class MailboxGone(loop.Stopped):
    """The driver's mailbox is gone (the driver ended): nobody records the run any more."""


def train_task(config: RunConfig, kwargs: dict, threads: int, key: str, attempt: int, first: int,
               mailbox, state: bytes | None, data=None) -> None:
    """One attempt at a run in a Ray worker, from epoch `first` with checkpoint `state` (None: a
    new run). `kwargs`: run, experiment, group, data_url, data_md5 and fresh (the driver
    has no record yet: this task sends its config.json). `data`: its data set's arrays from the
    object store (core.ray_data; None: the task makes or loads its own)."""
    import torch

    from .ray_data import dataset_of

    torch.set_num_threads(threads)  # equal threads: the same numbers as a local run
    import os

    import ray

    outbox = Outbox(mailbox, key, attempt)
    try:
        outbox.send(("where", ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), os.getpid()))
        train_here(config, outbox, first, state, dataset=dataset_of(data), **kwargs)
    except MailboxGone:
        pass
    finally:
        outbox.close()  # the worker process is reused for other tasks: leave no thread behind


def train_here(config: RunConfig, outbox: "Outbox", first: int, state: bytes | None, *, run: str,
               experiment: str, group: str | None, data_url=None, data_md5=None, fresh: bool = True,
               dataset: data_mod.Dataset | None = None) -> None:
    """core.lifecycle.train's loop, its record posted to `outbox`."""
    stop, done, opened, r = outbox.stop, first - 1, False, None
    try:
        device = loop.resolve_device(config.device)
        config = resolve_precision(config, device)
        outbox.check()  # stopped while queued
        if dataset is None:
            dataset = data_mod.SharedData(data_url, data_md5).load(config, device)
        else:
            dataset = dataset.head(config.train_fraction)
        outbox.check()  # stopped while the data loaded: no folder
        outbox.send(("open", run_meta(config, device, dataset, experiment, run, group) if fresh else None), wait=True)
        opened = True
        r = loop.prepare(config, dataset, device)
        rows = []
        if state is not None:
            import torch

            checkpoint = torch.load(io.BytesIO(state), map_location="cpu", weights_only=False)
            loop.apply_checkpoint(r, checkpoint)
            rows = checkpoint["metrics"]
        outbox.event(RunStarted(run, experiment, "", config.epochs, math.ceil(len(dataset.train_y) / config.batch_size),
                                str(device), first, config.precision))
        for epoch in range(first, config.epochs + 1):
            row = loop.run_epoch(r, epoch, outbox.event, stop, run)
            if not all(math.isfinite(v) for v in row.values()):
                outbox.send(("end", "diverged", diverged_message(epoch), done), wait=True)
                return
            rows.append(row)
            outbox.send(("epoch", row, bytes(checkpoint_bytes(loop.checkpoint(r, epoch, rows)))), wait=True)
            done = epoch
        outbox.send(("end", "finished", finished_message(done), done), wait=True)
        return
    except MailboxGone:
        return
    except (loop.Stopped, KeyboardInterrupt, Exception) as e:
        raised = ("raised", _portable(e), traceback.format_exc(), done, opened)
    # only now, with the exception and its traceback gone, can the run's tensors be freed (out of
    # GPU memory: the worker's next task gets the memory back)
    del r
    _free_device_memory()
    try:
        outbox.send(raised, wait=True)
    except MailboxGone:
        pass


def _portable(e: BaseException) -> BaseException:
    """`e` as the driver can unpickle it (an exception of a library's own may not be)."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


class Outbox:
    """A task's line to the driver: messages queue here and one thread posts them, in order, at
    least every POST_EVERY_S; each reply says whether to stop (sets `stop`). `send(wait=True)`
    returns once the mailbox holds the message; MailboxGone once the driver is gone."""

    def __init__(self, mailbox, key: str, attempt: int):
        self.mailbox, self.key, self.attempt = mailbox, key, attempt
        self.stop = threading.Event()
        self._cv = threading.Condition()
        self._pending: list = []
        self._queued = self._posted = 0
        self._closed = self._gone = False
        self._thread = threading.Thread(target=self._post_loop, name="cifar-tui outbox", daemon=True)
        self._thread.start()

    def event(self, event) -> None:
        self.send(("event", event))

    def send(self, message: tuple, wait: bool = False) -> None:
        with self._cv:
            if self._gone:
                raise MailboxGone
            self._pending.append(message)
            self._queued += 1
            mine = self._queued
            self._cv.notify_all()
            while wait and self._posted < mine and not self._gone:
                self._cv.wait()
            if self._gone:
                raise MailboxGone

    def check(self) -> None:
        """loop.Stopped if the driver wants the run stopped (asked now, not at the next post)."""
        self._post([])
        if self._gone:
            raise MailboxGone
        if self.stop.is_set():
            raise loop.Stopped

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join()

    def _post_loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._closed, timeout=POST_EVERY_S)
                batch, self._pending = self._pending, []
                closing = self._closed
            if batch or not closing:
                self._post(batch)
            with self._cv:
                self._posted += len(batch)
                self._cv.notify_all()
                if self._gone or (closing and not self._pending):
                    return

    def _post(self, batch: list) -> None:
        import ray

        try:
            stop = ray.get(self.mailbox.post.remote(self.key, self.attempt, batch))
        except ray.exceptions.RayError:  # the driver, and its mailbox, are gone
            with self._cv:
                self._gone = True
                self._cv.notify_all()
            self.stop.set()
            return
        if stop:
            self.stop.set()
