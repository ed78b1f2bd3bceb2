"""Ray nodes that cannot reach the log dir: the tasks send their records through Ray and this
process, the driver, writes them (core.ray_records).

One two-node cluster on loopback (tests/raynodes.py) serves the module's cluster tests: each
node's processes see an empty tmpfs where this process keeps its log dirs. The last test feeds
the driver's writer from the task's loop in this process, without Ray. Every run trains on one CPU thread, in
the tasks and in the serial references alike, so records compare bit for bit.
"""
import dataclasses
import os
import pickle
import shutil
import signal
import threading
from pathlib import Path

import pytest
import ray
import torch

import tbread
from eventorder import in_trainer_order
from raynodes import Nodes
from core import data as data_mod, trainer
from core.config import make_config
from core.data import DataError
from core.events import BatchProgress, EpochDone, RunNote, RunStarted
from core.executor import ThreadExecutor
from core.job import Job
from core.lifecycle import train
from core.ray_cluster import connect
from core.ray_executor import RayExecutor
from core.ray_nodes import node_name
from core.records import is_locked, lock_owner, read_metrics, read_run
from core.resume import resume_problem
from tui.cli import main

pytestmark = pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) to hide the log dir from the nodes")
TINY = ["--set", "epochs=2", "--set", "train_fraction=0.05", "--set", "batch_size=100", "--set", "device=cpu"]
RUNS = ("baseline", "augmentation+normalization")


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    return tmp_path_factory.mktemp("driver-only")


@pytest.fixture(scope="module")
def nodes(hidden):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    auth = os.environ.get("RAY_AUTH_MODE")
    token_auth("token")  # `ray start` turned token authentication on
    with Nodes(hidden) as nodes:
        ray.init(address=nodes.address, log_to_driver=False, logging_level="warning")
        try:
            nodes.heads = nodes.wait_for_nodes(ray)
            yield nodes
        finally:
            ray.shutdown()
            for s, handler in handlers.items():  # ray.init installs its own; later tests expect the defaults
                signal.signal(s, handler)
            token_auth(auth)


def token_auth(mode: str | None) -> None:
    """Set RAY_AUTH_MODE (None: unset) for this process's Ray, which reads it once, then caches it."""
    from ray._raylet import Config

    if mode is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = mode
    Config.initialize("")


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def same_weights(a, b) -> bool:
    mine, theirs = (torch.load(Path(d) / "checkpoint.pt", weights_only=False) for d in (a, b))
    return mine["epoch"] == theirs["epoch"] and all(torch.equal(mine["model"][k], theirs["model"][k])
                                                    for k in theirs["model"])


def scalars_once(run_dir) -> dict:
    """{tag: [(step, value)]} of every scalar in the run's event files, as written (no loader's purge)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    found: dict = {}
    for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if not value.tag.startswith(tbread.HPARAMS):
                    found.setdefault(value.tag, []).append(
                        (event.step, float(tensor_util.make_ndarray(value.tensor))))
    return found


def test_quick_demo_with_two_seeds_leaves_the_records_of_a_serial_run(nodes, hidden, capsys, one_thread):
    """`run --ray ADDRESS` finds that the nodes cannot write the log dir and has this process write
    the records: the same files, curves, weights and TensorBoard scalars as runs trained here in turn."""
    assert main(["run", "quick-demo", "--seeds", "2", "--logdir", str(hidden / "ray"), "--ray", nodes.address, *TINY]) == 0
    out = capsys.readouterr().out
    assert "The Ray nodes do not share the log dir: this machine writes the records" in out
    assert main(["run", "quick-demo", "--seeds", "2", "--logdir", str(hidden / "serial"), *TINY]) == 0
    folders = sorted(p.name for p in (hidden / "serial" / "quick-demo").iterdir() if p.is_dir())
    assert len(folders) == 4 and sorted(os.listdir(hidden / "ray" / "quick-demo")) == sorted(
        os.listdir(hidden / "serial" / "quick-demo"))  # the runs, and the study's manifest
    for name in folders:
        a, b = (hidden / kind / "quick-demo" / name for kind in ("serial", "ray"))
        assert read_run(b).status == "finished" and f"{name}: finished" in out
        assert sorted(p.name[:20] for p in b.iterdir()) == sorted(p.name[:20] for p in a.iterdir())
        assert len(curves(b)) == 2 and curves(a) == curves(b) and same_weights(a, b)
        assert scalars_once(a) == scalars_once(b) and tbread.slow(a) == tbread.slow(b)
        assert lock_owner(b)["pid"] == os.getpid()  # the driver held the run's lock
    assert sorted(os.listdir(hidden / "ray")) == ["quick-demo"]  # no control folder, no probe files

    # a folder the nodes cannot see resumes from the checkpoint the driver sends, as one here does
    a, b = (hidden / kind / "quick-demo" / folders[0] for kind in ("serial", "ray"))
    assert main(["run", "--resume", str(a), "--set", "epochs=3"]) == 0
    assert main(["run", "--resume", str(b), "--set", "epochs=3", "--ray", nodes.address]) == 0
    assert len(curves(b)) == 3 and curves(a) == curves(b) and same_weights(a, b)
    assert scalars_once(a) == scalars_once(b) and tbread.slow(a) == tbread.slow(b)


def test_stop_travels_through_ray_and_every_record_ends_stopped_and_resumable(nodes, hidden):
    stop, epochs = threading.Event(), {}

    def on_event(key, event):
        if isinstance(event, EpochDone):
            epochs[key] = event.epoch
            if len(epochs) == 2:
                stop.set()

    config = make_config({"dataset": "synthetic", "epochs": 50, "batch_size": 100, "device": "cpu", "train_fraction": 0.05})
    jobs = [Job(key=k, name=k, config=dataclasses.replace(config, seed=seed), experiment="exp")
            for k, seed in (("a", 4), ("b", 5))]
    ended = RayExecutor(str(hidden / "stop"), cluster=connect(), records="driver").run(jobs, on_event, stop)
    for key in ("a", "b"):
        info = read_run(ended[key].run_dir)
        assert ended[key].status == info.status == "stopped" and resume_problem(info) is None
        assert f"--resume {info.path}" in info.message and 1 <= len(info.metrics) < 50
        assert torch.load(info.path / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics)
        assert not is_locked(info.path)  # the driver let go of it


def test_a_stop_request_in_one_run_folder_stops_that_run_only(nodes, hidden):
    """x in a console writes a request into the run's folder, on the driver's disk: the driver
    tells that run's task through Ray; the other run trains to its end."""
    from core import stoprequest

    config = make_config({"dataset": "synthetic", "batch_size": 100, "device": "cpu", "train_fraction": 0.05})
    jobs = [Job(key="a", name="a", config=dataclasses.replace(config, epochs=50), experiment="exp"),
            Job(key="b", name="b", config=dataclasses.replace(config, epochs=3, seed=5), experiment="exp")]

    def on_event(key, event):
        if key == "a" and isinstance(event, EpochDone) and event.epoch == 1:
            stoprequest.request(Path(hidden / "request" / "exp" / "a"))

    ended = RayExecutor(str(hidden / "request"), cluster=connect(), records="driver").run(jobs, on_event)
    a, b = read_run(ended["a"].run_dir), read_run(ended["b"].run_dir)
    assert ended["a"].status == a.status == "stopped" and resume_problem(a) is None and len(a.metrics) < 50
    assert not stoprequest.requested(a.path)  # answered, and gone
    assert ended["b"].status == b.status == "finished" and len(b.metrics) == 3


def test_the_console_draws_runs_whose_records_the_driver_writes(nodes, hidden):
    """`cifar-tui --ray ADDRESS --ray-records driver`: the console gets the runs' events from the
    driver as they come through Ray and draws them as it draws its own."""
    from apphelp import fill, log_text, make_app, ready, sync, wait_for

    logdir = hidden / "runs"  # make_app's
    executor = RayExecutor(str(logdir), cluster=connect(), records="driver")
    app = make_app(hidden, executor=executor)

    @sync
    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: ready(app))
            await fill(pilot, app, epochs="2", train_fraction="0.05", batch_size="100", device="cpu")
            await pilot.press("a")  # quick-demo: two runs, one on each node
            await wait_for(pilot, lambda: len(app.views) == 2 and not app.running
                           and all(v.status != "queued" for v in app.views), timeout=600)
            for view in app.views:
                assert view.status == "finished", log_text(app)
                assert Path(view.run_dir).parent.parent == logdir
                assert view.metrics == read_metrics(view.run_dir) and len(view.metrics) == 2
            ran_on = {node_name(tries[-1]["node_id"], tries[-1]["ip"]) for tries in executor.attempts.values()}
            assert {v.place.kind for v in app.views} == {"ray"} and {v.place.node for v in app.views} == ran_on

    drive()


def test_a_node_killed_mid_epoch_is_retried_on_the_other_from_the_drivers_checkpoint(nodes, hidden, one_thread):
    """Two runs, one per node; the worker node is killed in its run's second epoch. That run goes on
    on the head node from the checkpoint the driver wrote after epoch 1: every epoch once in its
    metrics and TensorBoard, equal bit for bit to a run that was never interrupted."""
    config = make_config({"dataset": "synthetic", "epochs": 4, "batch_size": 100, "device": "cpu", "train_fraction": 0.1})
    jobs = [Job(key=k, name=k, config=dataclasses.replace(config, seed=seed), experiment="exp")
            for k, seed in (("a", 4), ("b", 5))]
    head = next(node for node, is_head in nodes.heads.items() if is_head)
    executor = RayExecutor(str(hidden / "kill"), cluster=connect(), records="driver")
    events, killed = {"a": [], "b": []}, []

    def on_event(key, event):
        events[key].append(event)
        if not killed and isinstance(event, BatchProgress) and event.epoch == 2 and event.batch >= 2:
            if executor.attempts[key][-1]["node_id"] != head:
                killed.append(key)
                nodes.kill_worker()

    ended = executor.run(jobs, on_event)
    assert len(killed) == 1, "no run was trained on the worker node"
    victim = killed[0]
    tries = executor.attempts[victim]
    assert [t["first_epoch"] for t in tries] == [1, 2] and tries[1]["node_id"] == head != tries[0]["node_id"]
    notes = [e.message for e in events[victim] if isinstance(e, RunNote)]
    assert notes[0].startswith("trains on node ") and len(notes) == 2
    assert "was lost; retry 1 of 2 resumes at epoch 2 on node " in notes[1]
    serial = hidden / "kill-serial"
    ThreadExecutor(str(serial)).run(jobs, lambda key, event: None)
    for key in ("a", "b"):
        run_dir = ended[key].run_dir
        assert ended[key].status == read_run(run_dir).status == "finished"
        assert [r["epoch"] for r in read_metrics(run_dir)] == [1, 2, 3, 4]
        assert all([step for step, _ in points] == [1, 2, 3, 4] for points in scalars_once(run_dir).values())
        assert curves(run_dir) == curves(serial / "exp" / key) and same_weights(run_dir, serial / "exp" / key)
        assert scalars_once(run_dir) == scalars_once(serial / "exp" / key)
        assert in_trainer_order(events[key]) and sum(isinstance(e, RunStarted) for e in events[key]) == 1
        assert [e.epoch for e in events[key] if isinstance(e, EpochDone)] == [1, 2, 3, 4]


# --- the driver's writer fed by the task's loop in this process (no Ray): ends as train()'s --------


class FakeCluster:
    def gpus(self):
        return 0


class FakeMailbox:
    class halt:  # noqa: N801 (an actor method's spelling)
        @staticmethod
        def remote(key, attempt):
            pass


def through_the_driver(config, logdir, stop):
    """core.ray_task's loop posting straight to core.ray_records' writer, each message pickled and
    unpickled as Ray carries it: (the RunEnded, the events)."""
    from core.ray_records import _Run
    from core.ray_task import Outbox, train_here

    events = []
    run = _Run(Job(key="k", name="r", config=config, experiment="exp"), RayExecutor(logdir, cluster=FakeCluster()),
               FakeMailbox, lambda key, event: events.append(event))

    class Direct(Outbox):
        def __init__(self):
            self.stop = stop

        def send(self, message, wait=False):
            run.receive(0, pickle.loads(pickle.dumps(message)))

        def check(self):
            pass

    train_here(run.config, Direct(), 1, None, run="r", experiment="exp", group=None)
    return run.ended, events


def broken_at_epoch_2(how):
    real = trainer.run_epoch

    def run_epoch(r, epoch, emit, stop, name):
        if epoch < 2:
            return real(r, epoch, emit, stop, name)
        if how == "nan":
            return {**real(r, epoch, emit, stop, name), "train_loss": float("nan")}
        if how == "stop":
            stop.set()
            return real(r, epoch, emit, stop, name)
        raise ValueError("a bug in epoch 2")

    return run_epoch


@pytest.mark.parametrize("how", ["bug", "nan", "stop", "no data"])
def test_a_run_ends_as_a_local_run_ends_when_the_driver_writes_it(tmp_path, monkeypatch, one_thread, how):
    """A bug (error.log with the task's traceback), a diverged loss, a stop, data that cannot be
    loaded: the same status, cause, sentence and files as train() in this process leaves."""
    if how == "no data":
        def no_data(self, config, device=None):
            raise DataError("CIFAR-10 is not in /nowhere; give --data-dir.")
        monkeypatch.setattr(data_mod.SharedData, "load", no_data)
    else:
        monkeypatch.setattr(trainer, "run_epoch", broken_at_epoch_2(how))
    config = make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 100, "device": "cpu", "train_fraction": 0.05})
    local = train(config, None, threading.Event(), logdir=str(tmp_path / "local"), experiment="exp", run="r")
    ended, events = through_the_driver(config, str(tmp_path / "driver"), threading.Event())
    assert (ended.status, ended.cause, ended.epochs_done) == (local.status, local.cause, local.epochs_done)
    assert ended.message == local.message.replace(str(tmp_path / "local"), str(tmp_path / "driver"))
    assert ended.status == {"bug": "failed", "nan": "diverged", "stop": "stopped", "no data": "failed"}[how]
    assert events[-1] == ended and (in_trainer_order(events) if how != "no data" else events == [ended])
    if how == "no data":
        assert not (tmp_path / "driver" / "exp").exists() and not (tmp_path / "local" / "exp").exists()
        return
    a, b = Path(local.run_dir), Path(ended.run_dir)
    assert sorted(p.name[:20] for p in a.iterdir()) == sorted(p.name[:20] for p in b.iterdir())
    assert read_run(b).status == ended.status and curves(a) == curves(b) and same_weights(a, b)
    if how == "bug":
        assert "ValueError: a bug in epoch 2" in (b / "error.log").read_text()
        assert "run_epoch" in (b / "error.log").read_text()  # the task's traceback, not the driver's
