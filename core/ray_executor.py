"""Runs on a Ray cluster: each run is one Ray task, watched through its run folder.

Another placement of the executor layer (core.executor): `RayExecutor.run` reports the
same events, in the same order, as the others, read by a `Follower` from the run folders
that the tasks write into the shared log dir. Ray schedules the tasks (one GPU per run,
1/k of one with `runs_per_gpu=k`, or CPUs on a cluster without GPUs) and retries a task
whose worker process or node was lost; the retry resumes the run from its last checkpoint.

    cluster = connect(address)                 # core.ray_cluster; None: a local Ray instance here
    executor = RayExecutor(logdir, cluster=cluster, runs_per_gpu=2)
    executor.check(jobs)                       # GPUs, and the log dir as every node sees it
    ended = executor.run(jobs, on_event, stop, hurry)
    cluster.close()

Driver and tasks talk through the shared log dir only: `<logdir>/.ray/<study>/` holds the
stop request (core.stoprequest) the driver writes on stop (each task's trainer then stops within a batch:
records stopped, resumable) and, per job, the run folder its task writes (so that a retry
resumes that folder and the driver follows it). When the retries run out, the driver writes
the record's end: failed, cause `worker lost`, resumable by hand.

Beside it: core.ray_cluster joins Ray (token, shipped code, core.ray_logs for Ray's own lines),
core.ray_nodes checks each node's cifar-tui, core.ray_probe its view of the log dir,
core.ray_data sends the data set through the object store, core.ray_retries says where each
attempt of a run trained.

Where the nodes do not share the log dir (the storage probe finds a node that cannot write it,
or `records="driver"` asks for it), the tasks send their records through Ray and this process
writes them: core.ray_records.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .advice import resume_advice
from .config import RunConfig
from .events import RunEnded, RunNote, RunStarted
from .executor import Executor
from .job import Job
from .placed import Placed
from .ray_cluster import Cluster, ClusterError
from .ray_data import dataset_of, put_data
from .ray_nodes import check_nodes, checked, cpu_nodes, node_name, packed, task_failure
from .ray_probe import PROBE_TIMEOUT_S, NotShared, probe_storage
from .ray_retries import LOST, alive_nodes, first_line, read_attempt, record_attempt, retry_line
from .records import check_logdir, is_locked, take_lock, write_json
from .stoprequest import StopFlag, request as stop_request

POLL_S = 0.1              # how often the driver reads the running runs' folders
STOP_POLL_S = 0.2         # how often a task looks for the driver's stop request
CONTROL = ".ray"          # <logdir>/.ray/<study>/: the driver's stop request and the jobs' run folders


@dataclass
class RayExecutor(Executor):
    """Runs every job as one Ray task at once (Ray queues what does not fit). `device`: cpu or
    cuda for every run (None: each run's own setting; auto takes a GPU where the cluster has
    one); `runs_per_gpu`: k runs share a GPU; `cpus_per_run`: CPUs (and torch threads) per run;
    `max_retries`: how often a task runs again after its worker was lost. `records`: who writes
    the run folders: shared (the tasks, into the log dir every node shares), driver (this process,
    from what the tasks send through Ray: core.ray_records) or auto (shared where check() finds
    that every node shares the log dir, else driver)."""
    cluster: Cluster | None = None
    device: str | None = None
    runs_per_gpu: int | None = None
    cpus_per_run: int = 1
    max_retries: int = 2
    records: str = "auto"
    attempts: dict = field(default_factory=dict)  # driver records: {job key: [where each attempt ran]}
    note: str = ""  # a line for the user once check() has run (who writes the records), or ""

    def placement(self, config: RunConfig) -> tuple[str, dict]:
        """(the device the task trains on, the resources it asks Ray for); ClusterError when the
        run needs a GPU that the cluster does not have."""
        wanted = self.device or ("cuda" if self.runs_per_gpu else config.device)
        gpus = self.cluster.gpus()
        if wanted.startswith("cuda") or (wanted == "auto" and gpus):
            if not gpus:
                asked = "--runs-per-gpu" if self.runs_per_gpu else f"device {wanted}"
                raise ClusterError(f"the Ray cluster has no GPU, but {asked} asks for one; leave it out "
                                   "(or use device cpu) to train on the cluster's CPUs.")
            return "cuda", {"num_gpus": 1 / (self.runs_per_gpu or 1), "num_cpus": self.cpus_per_run}
        return "cpu", {"num_cpus": self.cpus_per_run}

    def check(self, jobs, resume_dir=None) -> None:
        """Before anything starts: every run can be placed, and every node writes the log dir this
        process reads (and sees `resume_dir`); where one does not, this process will write the
        records (auto), or (shared) ClusterError with one sentence, nothing left behind."""
        for job in jobs:
            self.placement(job.config)
        created = _missing_parents(self.logdir)
        check_logdir(self.logdir)
        try:
            self._probe_storage(resume_dir)
        except NotShared:
            if self.records == "shared":
                _remove_empty(created)
                raise
            self.records = "driver"  # auto: the tasks send their records here
            self.note = ("The Ray nodes do not share the log dir: this machine writes the records, "
                         "from what the runs send through Ray.")
        except BaseException:
            _remove_empty(created)
            raise

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()

    def _probe_storage(self, resume_dir) -> None:
        ray = self.cluster.ray
        nodes = cpu_nodes(ray)
        check_nodes(ray, nodes, self.cluster.ships_code)  # first: the probe itself runs our code there
        if self.records != "driver":  # the driver keeps the records: no node needs the log dir
            probe_storage(ray, nodes, self.logdir, resume_dir)

    def run(self, jobs, on_event, stop: threading.Event | None = None,
            hurry: threading.Event | None = None) -> dict[str, RunEnded]:
        """Submit every job, follow each through its folder until all have ended; returns
        {job.key: RunEnded}. `stop`: every run stops within a batch; `hurry` as well: at once."""
        ray = self.cluster.ray
        stop, hurry = stop or threading.Event(), hurry or threading.Event()
        if self.records == "driver":
            from .ray_records import run_with_driver_records

            return run_with_driver_records(self, jobs, on_event, stop, hurry)
        ended: dict[str, RunEnded] = {}
        control, held = _control_folder(Path(self.logdir, CONTROL).absolute())
        queue, data = put_data(ray, list(jobs), on_event, ended, self.data_url, self.data_md5)  # once, here
        running = [self._submit(job, control, data.get(job.key)) for job in queue]
        stopping = hurrying = False
        try:
            while running:
                if stop.is_set() and not stopping:
                    stopping = True
                    stop_request(control)
                if hurry.is_set() and not hurrying:  # KeyboardInterrupt in each task: the epoch is abandoned
                    hurrying = True
                    for task in running:
                        ray.cancel(task.ref)
                ready, _ = ray.wait([t.ref for t in running], num_returns=len(running), timeout=POLL_S)
                for task in list(running):
                    self._watch(task, on_event)
                    if task.ref in ready:
                        self._finish(task, on_event, stop)
                        running.remove(task)
                        ended[task.job.key] = task.ended
        finally:  # an error here (e.g. in on_event) must not leave runs training: stop them cleanly
            if running:
                stop_request(control)
                ray.wait([t.ref for t in running], num_returns=len(running), timeout=PROBE_TIMEOUT_S)
            shutil.rmtree(control, ignore_errors=True)
            held.close()
            try:
                control.parent.rmdir()
            except OSError:  # another study's control folder is there
                pass
        return ended

    def task_config(self, config: RunConfig) -> tuple[RunConfig, dict]:
        """The run's config as its task trains it, and the resources the task asks for. Not
        checked against this machine: the driver of a GPU cluster may have no GPU itself."""
        device, resources = self.placement(config)
        return dataclasses.replace(config, device=device, data_dir=_absolute(config.data_dir)), resources

    def _submit(self, job: Job, control: Path, data=None) -> "_Task":
        ray = self.cluster.ray
        config, resources = self.task_config(job.config)
        kwargs = {**self.train_kwargs(job), "logdir": os.path.abspath(self.logdir),
                  "resume_dir": job.resume_dir and os.path.abspath(job.resume_dir)}
        task = ray.remote(checked(_train_task)).options(  # checked: for a node that joined after check()
            name=f"cifar-tui {job.name}", max_retries=self.max_retries, retry_exceptions=False,
            scheduling_strategy="SPREAD", **resources)
        return _Task(job, ref=task.remote(packed(config, kwargs, self.cpus_per_run, str(control), job.key), data),
                     control=control)

    def _watch(self, task: "_Task", on_event) -> None:
        self._note_attempt(task, on_event, first=False)  # a retry's line before its epochs
        if task.follower is None and (started := _read_json(task.marker())) is not None:
            task.follow(started["run_dir"], started["first_epoch"])
            if now := read_attempt(task.control, task.job.key, max(task.attempts, 1)):  # the node that trains it
                task.where = {"node": node_name(now["node_id"], now["ip"])}
        task.poll(on_event)
        self._note_attempt(task, on_event, first=True)  # where the run trains, after its RunStarted

    def _note_attempt(self, task: "_Task", on_event, first: bool) -> None:
        """One line when an attempt of the task has begun (`first`: the first may be said): on
        which node; for a retry, what was lost too, and where it resumes."""
        if (task.attempts == 0) != first or task.ended is not None or (first and task.follower is None):
            return
        now = read_attempt(task.control, task.job.key, task.attempts + 1)
        if now is None:
            return
        task.attempts += 1
        earlier = read_attempt(task.control, task.job.key, task.attempts - 1) if task.attempts > 1 else None
        line = first_line(now) if earlier is None else \
            retry_line(earlier, now, task.attempts, self.max_retries, self._alive())
        task.emit([RunNote(task.job.name, line)], on_event)

    def _alive(self) -> set:
        """The ids of the live nodes, less those the raylet already said died."""
        return alive_nodes(self.cluster.ray) - (self.cluster.log.dead if self.cluster.log else set())

    def _finish(self, task: "_Task", on_event, stop: threading.Event) -> None:
        """The task is over: its record's end, which the driver writes when the worker was lost."""
        ray = self.cluster.ray
        returned, lost, cancelled = None, None, False
        try:
            returned = ray.get(task.ref)
        except ray.exceptions.TaskCancelledError:  # hurried: the trainer recorded the stop itself
            cancelled = True
        except ray.exceptions.RayTaskError as e:  # the task's own code failed, e.g. no cifar-tui on that node
            returned = RunEnded(task.job.name, "failed", task_failure(e, self.cluster.ships_code), cause="internal")
        except ray.exceptions.RayError as e:  # worker or node lost, and Ray's retries ran out
            lost = e
        self._watch(task, on_event)  # the folder may have appeared just before the end
        if task.follower is None:
            task.emit([returned or self._unrecorded(task.job, lost, stop)], on_event)
            return
        path = task.follower.path

        def died(done):  # the trainer could not write its end: the driver does
            if cancelled:  # interrupted outside the trainer's reach, e.g. while it loaded its data
                return "stopped", resume_advice(f"stopped after {done} finished epoch(s)", path), ""
            return "failed", resume_advice(f"its Ray worker was lost ({type(lost).__name__}) {self._attempts()}"
                                           f"{self._last_node(task)}; {done} finished epoch(s) are recorded", path), LOST

        task.conclude(on_event, died if lost is not None or cancelled else None,
                      returned or RunEnded(task.job.name, "failed", f"the Ray task ended without a status; see {path}.",
                                           run_dir=str(path), cause=LOST if lost else "internal"))

    def _last_node(self, task: "_Task") -> str:
        last = read_attempt(task.control, task.job.key, task.attempts) if task.attempts else None
        return f", last on node {node_name(last['node_id'], last['ip'])}" if last else ""

    def _unrecorded(self, job: Job, lost, stop: threading.Event) -> RunEnded:
        if lost is None or stop.is_set():
            return RunEnded(job.name, "stopped", "stopped before the run began; nothing was recorded.")
        return RunEnded(job.name, "failed", f"its Ray worker was lost ({type(lost).__name__}) {self._attempts()}, "
                        "before the run began; nothing was recorded.", cause=LOST)

    def _attempts(self) -> str:
        tries = self.max_retries + 1
        return "on its only attempt (no retries)" if tries == 1 else f"on each of its {tries} attempts"


@dataclass
class _Task(Placed):
    ref: object = None
    control: Path | None = None
    attempts: int = 0  # the attempts (core.ray_retries) the driver has seen begin

    def marker(self) -> Path:
        return self.control / f"{self.job.key}.json"


def _control_folder(root: Path) -> tuple[Path, object]:
    """A new control folder under `root`, locked for as long as this driver lives (the lock, an
    OS lock, goes with the process, even on SIGKILL): (its path, the held lock). The folders of
    drivers that are gone, whose lock nobody holds, are removed first. Made under a dot name
    and renamed once locked, so another driver never takes a new one for a dead one's."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if not old.name.startswith(".") and old.is_dir() and not old.is_symlink() and not is_locked(old):
            shutil.rmtree(old, ignore_errors=True)
    name = uuid.uuid4().hex
    making = root / f".{name}"
    making.mkdir()
    held = take_lock(making)
    making.rename(root / name)
    return root / name, held


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _missing_parents(path) -> list[Path]:
    """The folders that creating `path` would make, deepest first."""
    missing, here = [], Path(path).absolute()
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    return missing


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders a check made (deepest first), only while empty."""
    for path in created:
        try:
            os.rmdir(path)
        except OSError:
            break


def _absolute(path: str) -> str:
    """A relative data dir means the driver's; `~` stays, for each node's own home."""
    return path if path.startswith("~") else os.path.abspath(path)


# --- what runs on the Ray nodes ---------------------------------------------------------------


def _train_task(config: RunConfig, kwargs: dict, threads: int, control: str, key: str, data=None) -> RunEnded:
    """One run in a Ray worker. A retry (the last worker was lost) resumes the folder that the
    lost attempt named; the driver's stop request makes the trainer stop within a batch. `data`:
    the arrays of its data set, from the object store (core.ray_data)."""
    import torch

    from .lifecycle import train

    torch.set_num_threads(threads)  # equal threads: the same numbers as a local run
    marker = Path(control, f"{key}.json")
    earlier = _read_json(marker)
    resume_dir = kwargs["resume_dir"] or (earlier and earlier["run_dir"])
    # until its run has begun, every look reads the driver's request (a run stopped while queued or
    # loading its data makes no folder); then one look per STOP_POLL_S (no file read per batch)
    stop = StopFlag(control, every_s=0)

    def on_event(event):
        if isinstance(event, RunStarted):
            stop.every_s = STOP_POLL_S
            record_attempt(control, key, event.first_epoch)
            if earlier is None:  # the folder exists and is locked
                write_json(marker, {"run_dir": event.run_dir, "first_epoch": event.first_epoch})

    if stop.is_set():
        return RunEnded(kwargs["run"], "stopped", "stopped before the run began; nothing was recorded.")
    return train(config, on_event, stop, **{**kwargs, "resume_dir": resume_dir, "dataset": dataset_of(data)})
