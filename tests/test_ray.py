"""Runs as Ray tasks: `run --ray`, the Ray executor's retries, stops and refusals.

One local Ray instance (2 CPUs) serves the module; Ray's start-up costs seconds, so the
tests are few and each checks several things. Every run trains on one CPU thread, in Ray's
workers and in the serial references alike, so curves compare bit for bit.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray
import torch

from eventorder import in_trainer_order
from exitcases import EXPERIMENT, check_exit_codes
from core.config import make_config
from core.events import EpochDone, RunEnded, RunNote, RunStarted
from core.executor import ThreadExecutor
from core.job import Job
from core.lifecycle import train
from core.ray_cluster import INSTALL, connect
from core.ray_executor import LOST, RayExecutor
from core.ray_nodes import node_name
from core.records import lock_owner, read_metrics, read_run
from core.resume import resume_problem
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--set", "epochs=2", "--set", "train_fraction=0.05", "--set", "batch_size=100", "--set", "device=cpu"]
RUNS = ("baseline", "augmentation+normalization")  # quick-demo's two: with and without augmentation's RNG


@pytest.fixture(scope="module")
def cluster():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield connect()  # this process's instance, kept by every connect() (and `main`) in the module
    ray.shutdown()
    for s, handler in handlers.items():  # ray.init installs its own; later tests expect the defaults
        signal.signal(s, handler)


def tiny(**kw):
    return make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 100, "device": "cpu",
                        "train_fraction": 0.05, **kw})


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def same_weights(a, b) -> bool:
    mine, theirs = (torch.load(Path(d) / "checkpoint.pt", weights_only=False)["model"] for d in (a, b))
    return all(torch.equal(mine[k], theirs[k]) for k in theirs)


def test_run_ray_leaves_the_records_of_a_serial_run(cluster, tmp_path, capsys, one_thread):
    """quick-demo as two Ray tasks (one CPU, one thread each) against the same runs here, in turn."""
    assert main(["run", "quick-demo", "--logdir", str(tmp_path / "ray"), "--ray", *TINY]) == 0
    out = capsys.readouterr().out
    assert main(["run", "quick-demo", "--logdir", str(tmp_path / "serial"), *TINY]) == 0
    for name in RUNS:
        a, b = (tmp_path / kind / "quick-demo" / name for kind in ("serial", "ray"))
        assert read_run(b).status == "finished"
        assert len(curves(b)) == 2 and curves(a) == curves(b)
        assert same_weights(a, b)
        assert f"{name}  epoch 2/2" in out and f"{name}: finished" in out  # the usual lines, per run
    assert sorted(os.listdir(tmp_path / "ray")) == ["quick-demo"]  # the driver's control folder is gone


def test_a_lost_worker_is_retried_from_its_checkpoint_then_failed_when_retries_run_out(cluster, tmp_path, one_thread):
    """Kill the run's worker in epoch 2: Ray retries it and it resumes; kill the retry in epoch 3:
    no retries are left, so the driver records `failed (worker lost)`. Resumed by hand, the run has
    every epoch once, equal bit for bit to a run that was never interrupted."""
    config = tiny(epochs=4, train_fraction=0.1)
    events, kills = [], []  # kills: (epoch it was in, pid, when)

    def on_event(key, event):
        events.append(event)
        epoch = getattr(event, "epoch", 0)
        if len(kills) < 2 and epoch >= 2 + len(kills) and not isinstance(event, RunEnded):
            pid = lock_owner(events[0].run_dir)["pid"]
            kills.append((epoch, pid, time.time()))
            os.kill(pid, signal.SIGKILL)

    executor = RayExecutor(str(tmp_path / "ray"), cluster=cluster, max_retries=1)
    lost = executor.run([Job(key="v", name="victim", config=config, experiment="exp")], on_event)["v"]
    assert len(kills) == 2 and kills[0][1] != kills[1][1]  # the second kill hit the retry's worker
    assert (lost.status, lost.cause) == ("failed", LOST) and f"--resume {lost.run_dir}" in lost.message
    info = read_run(lost.run_dir)
    assert (info.status, info.cause) == ("failed", LOST) and resume_problem(info) is None
    assert in_trainer_order(events) and sum(isinstance(e, RunStarted) for e in events) == 1
    node = f"{ray.get_runtime_context().get_node_id()[:8]} ({ray.util.get_node_ip_address()})"
    notes = [e.message for e in events if isinstance(e, RunNote)]  # where it trains, and the retry
    assert notes == [f"trains on node {node}", f"its worker on node {node} was lost; retry 1 of 1 resumes at "
                     f"epoch {kills[0][0]} on node {node}"]
    assert f"on each of its 2 attempts, last on node {node}; " in lost.message
    rows = read_metrics(lost.run_dir)
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2
    assert [r["epoch"] for r in rows if r["time"] < kills[0][2]] == list(range(1, kills[0][0]))  # kept, not redone

    again = []
    resumed = RayExecutor(str(tmp_path / "ray"), cluster=cluster).run(
        [Job(key="v", name="victim", config=config, experiment="exp", resume_dir=lost.run_dir)], lambda key, event: again.append(event))["v"]
    assert resumed.status == "finished" and again[0].first_epoch == len(rows) + 1
    assert [e.epoch for e in events + again if isinstance(e, EpochDone)] == [1, 2, 3, 4]
    ThreadExecutor(str(tmp_path / "serial")).run([Job(key="r", name="victim", config=config, experiment="exp")], lambda key, event: None)
    reference = tmp_path / "serial" / "exp" / "victim"
    assert curves(lost.run_dir) == curves(reference) and same_weights(lost.run_dir, reference)


def test_stop_from_the_driver_stops_every_run_cleanly_and_resumably(cluster, tmp_path):
    import threading

    stop, epochs = threading.Event(), {}

    def on_event(key, event):
        if isinstance(event, EpochDone):
            epochs[key] = event.epoch
            if len(epochs) == 2:
                stop.set()

    jobs = [Job(key="a", name="a", config=tiny(epochs=50), experiment="exp"),
            Job(key="b", name="b", config=tiny(epochs=50, seed=5), experiment="exp")]
    ended = RayExecutor(str(tmp_path), cluster=cluster).run(jobs, on_event, stop)
    for key in ("a", "b"):
        info = read_run(ended[key].run_dir)
        assert ended[key].status == info.status == "stopped" and resume_problem(info) is None
        assert f"--resume {info.path}" in info.message
        assert torch.load(info.path / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics) >= 1
    assert not (tmp_path / ".ray").exists()


def test_ctrl_c_on_the_driver_stops_every_run_cleanly(tmp_path):
    """The whole process group gets the SIGINT, as from a terminal: Ray's own processes too."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "quick-demo", "--logdir", str(tmp_path), "--ray",
                             *TINY, "--set", "epochs=50"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    dirs = [tmp_path / "quick-demo" / name for name in RUNS]
    deadline = time.monotonic() + 300
    while not all(read_metrics(d) for d in dirs) and proc.poll() is None:
        assert time.monotonic() < deadline, "the runs did not start"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, out
    for d in dirs:
        info = read_run(d)
        assert info.status == "stopped" and resume_problem(info) is None, info.message
        assert torch.load(d / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics) >= 1
        assert f"{d.name}: stopped" in out
    assert "Traceback" not in out and sorted(os.listdir(tmp_path)) == ["quick-demo"]


class GpuCluster:
    """What the executor asks of a cluster, for one with `n` GPUs (no Ray needed to place runs)."""
    def __init__(self, n):
        self.n = n

    def gpus(self):
        return self.n


@pytest.mark.parametrize("kw, device, resources", [
    ({}, "cuda", {"num_gpus": 1.0, "num_cpus": 1}),                       # auto takes a whole GPU
    ({"runs_per_gpu": 4}, "cuda", {"num_gpus": 0.25, "num_cpus": 1}),     # 4 runs share one
    ({"device": "cpu"}, "cpu", {"num_cpus": 1}),
    ({"device": "cuda", "cpus_per_run": 2}, "cuda", {"num_gpus": 1.0, "num_cpus": 2}),
])
def test_runs_ask_a_gpu_cluster_for_a_gpu_or_a_share_of_one(kw, device, resources):
    """Placed from this GPU-less machine: the task's config says cuda without being checked here."""
    config, asked = RayExecutor("runs", cluster=GpuCluster(2), **kw).task_config(tiny(device="auto", data_dir="data"))
    assert (config.device, asked) == (device, resources)
    assert config.data_dir == os.path.abspath("data")  # a relative data dir is the driver's
    assert RayExecutor("runs", cluster=GpuCluster(0)).task_config(tiny(device="auto"))[0].device == "cpu"


def refused(capsys, *args, logdir):
    code = main(["run", *args, "--logdir", str(logdir)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not Path(logdir).exists()  # nothing written
    return err


@pytest.mark.parametrize("option", [["--ray"], ["--ray", "auto"], ["--runs-per-gpu", "2"]])
def test_every_ray_option_without_ray_says_how_to_install_it(capsys, monkeypatch, tmp_path, option):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    assert refused(capsys, "quick-demo", *option, logdir=tmp_path / "runs") == f"cifar-tui: {INSTALL}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_nobody_listens_on_is_refused_at_once(capsys, tmp_path):
    port = free_port()
    started = time.monotonic()
    err = refused(capsys, "quick-demo", "--ray", f"127.0.0.1:{port}", logdir=tmp_path / "runs")
    assert time.monotonic() - started < 30  # Ray alone would retry for minutes
    assert err.startswith(f"cifar-tui: nothing answers at 127.0.0.1:{port} (")


@pytest.mark.parametrize("args, expected", [
    (["--ray", "--runs-per-gpu", "2"], "the Ray cluster has no GPU, but --runs-per-gpu asks for one"),
    (["--ray", "--devices", "cuda"], "the Ray cluster has no GPU, but device cuda asks for one"),
    (["--ray", "--runs-per-gpu", "0"], "--runs-per-gpu: 0 is too few; use 1 or more, e.g. --runs-per-gpu 4."),
    (["--ray", "--runs-per-gpu", "x"], "--runs-per-gpu: 'x' is not a whole number"),
    (["--runs-per-gpu", "2"], "--runs-per-gpu packs runs onto a Ray cluster's GPUs; add --ray"),
    (["--ray", "--parallel", "2"], "with --ray the cluster places them, so leave --parallel out."),
    (["--ray", "--devices", "cuda:1"], "--devices: with --ray use cpu or cuda"),
    (["--ray", "--devices", "cpu", "--runs-per-gpu", "2"], "--runs-per-gpu shares GPUs, but --devices cpu"),
])
def test_bad_ray_placement_is_one_sentence_and_exit_2(cluster, capsys, tmp_path, args, expected):
    assert expected in refused(capsys, "quick-demo", *args, logdir=tmp_path / "runs")


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) to give a Ray node its own view of a folder")
def test_a_log_dir_or_run_folder_the_nodes_cannot_see_is_refused(tmp_path, one_thread):
    """A one-node cluster whose processes see an empty tmpfs where this machine sees `shared`:
    a node that does not share our disk, with --ray-records shared (the tasks must write the records)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    train(tiny(epochs=1), logdir=str(shared), experiment="exp", run="old")
    port = free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # its own, short (socket paths), and not /tmp/ray:
    head = subprocess.Popen(                           # this head must not become the box's `auto` cluster
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount -t tmpfs none {shared} && exec {ray_cli} start --head --port {port} --num-cpus 1 --temp-dir {temp} "
         f"--ray-client-server-port {free_port()} --include-dashboard false --disable-usage-stats --block"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not answers(port):
            if head.poll() is not None:
                why = head.stderr.read()
                if "unshare" in why or "mount" in why:  # not allowed here (no root): no such node to be had
                    pytest.skip(f"cannot make a private mount: {why.strip()}")
                pytest.fail(f"the Ray head did not start: {why}")
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.2)
        env = {**os.environ, "PYTHONPATH": ROOT, "RAY_AUTH_MODE": "token"}

        def cli(*args):
            proc = subprocess.run([sys.executable, "-m", "tui.cli", "run", *args, "--ray", f"127.0.0.1:{port}",
                                   "--ray-records", "shared"],  # (the default, auto, has this process write them)
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            lines = [line for line in proc.stderr.splitlines() if line.startswith("cifar-tui:")]
            return proc.returncode, lines

        code, lines = cli("quick-demo", *TINY, "--logdir", str(shared / "runs"))
        assert code == 2 and len(lines) == 1 and "cannot write the log dir" in lines[0], lines
        assert "(NFS or the like)" in lines[0] and not (shared / "runs").exists()

        old = shared / "exp" / "old"
        code, lines = cli("--resume", str(old), "--set", "epochs=2", "--logdir", str(tmp_path / "elsewhere"))
        assert code == 2 and len(lines) == 1 and f"cannot see the run folder {old}" in lines[0], lines
        assert len(read_metrics(old)) == 1 and read_run(old).status == "finished"  # untouched
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_the_console_trains_its_queue_as_ray_tasks_and_draws_them(cluster, tmp_path):
    """`cifar-tui --ray ADDRESS`: the form's queue goes to the cluster; the console follows the runs
    through their records and draws them as it draws its own."""
    from apphelp import fill, log_text, make_app, ready, sync, wait_for

    @sync
    async def drive():
        app = make_app(tmp_path, executor=RayExecutor(str(tmp_path / "runs"), cluster=cluster))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: ready(app))
            await fill(pilot, app, epochs="2", train_fraction="0.05", batch_size="100", device="cpu")
            await pilot.press("a")  # quick-demo: two runs, both submitted at once
            await wait_for(pilot, lambda: len(app.views) == 2 and not app.running
                           and all(v.status != "queued" for v in app.views), timeout=600)
            for view in app.views:
                assert view.status == "finished", log_text(app)
                assert view.metrics == read_metrics(view.run_dir) and len(view.metrics) == 2
                node = node_name(cluster.ray.get_runtime_context().get_node_id(), cluster.ray.util.get_node_ip_address())
                assert view.place.kind == "ray" and view.place.node == node  # the one node of this cluster
            assert not any(p.name.startswith(".ray") and any(p.iterdir()) for p in (tmp_path / "runs").iterdir()
                           if p.is_dir()), "the control folder is left behind"

    drive()


def test_run_ray_exits_as_the_other_placements_do(cluster, tmp_path, one_thread):
    """0 all finished, 1 a run failed, 2 a resume target the trainer refused: as in this process
    and in worker processes (tests/test_exitcodes.py)."""
    from core.placement import Placement
    from tui.headless import run_queue

    ray = Placement(kind="ray", device="cpu")
    check_exit_codes(lambda jobs, logdir, **kw: run_queue(jobs, logdir=str(logdir), experiment=EXPERIMENT,
                                                          placement=ray, **kw), tmp_path)


def test_run_and_the_console_spell_ray_alike(cluster, tmp_path, capsys, monkeypatch, one_thread):
    """A bare --ray and `local` both mean Ray on this box, for `run` as for the console."""
    assert main(["run", "quick-demo", "--run", "baseline", "--ray", "local", "--logdir", str(tmp_path / "runs"),
                 *TINY]) == 0
    assert read_run(tmp_path / "runs" / "quick-demo" / "baseline").status == "finished"
    opened = []
    monkeypatch.setattr("tui.app.run_console", lambda **kw: opened.append(kw) or 0)  # not the TUI itself
    assert main(["--ray", "--logdir", str(tmp_path / "console")]) == 0
    assert isinstance(opened[0]["executor"], RayExecutor), capsys.readouterr().err


def test_cpus_per_run_and_max_retries_reach_the_ray_tasks(cluster, tmp_path, monkeypatch):
    """`run` and the console alike: the executor asks Ray for N CPUs a run and retries as told."""
    from core.placement import make_executor

    placed = []  # the executors `run` and the console get (not the runs themselves)
    monkeypatch.setattr("tui.headless.run_queue",
                        lambda jobs, **kw: placed.append(make_executor(kw["placement"], kw["logdir"])) or 0)
    monkeypatch.setattr("tui.app.run_console", lambda **kw: placed.append(kw["executor"]) or 0)
    options = ["--cpus-per-run", "2", "--max-retries", "0", "--logdir", str(tmp_path)]
    assert main(["run", "quick-demo", "--ray", *options]) == 0 and main(["--ray", *options]) == 0
    assert len(placed) == 2
    for executor in placed:
        assert (executor.cpus_per_run, executor.max_retries) == (2, 0)
        assert executor.task_config(tiny())[1] == {"num_cpus": 2}
        executor.close()  # its Ray log; the module's Ray instance stays
    assert [RayExecutor(str(tmp_path), cluster=cluster).cpus_per_run, RayExecutor(str(tmp_path)).max_retries] == [1, 2]


@pytest.mark.parametrize("spelling", [["--ray"], ["--ray", "local"]], ids=["bare", "local"])
def test_console_ray_flags_are_checked_before_the_console_opens(capsys, tmp_path, spelling):
    assert main([*spelling, "--parallel", "2", "--logdir", str(tmp_path)]) == 2
    assert "with --ray the cluster places them, so leave --parallel out." in capsys.readouterr().err
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["--ray", f"127.0.0.1:{port}", "--logdir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cifar-tui: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "logs").exists()


def test_x_then_q_in_a_ray_console_stop_its_ray_runs_cleanly(cluster, tmp_path):
    """`cifar-tui --ray`: x stops the selected run of the round within a batch, X (y) the others,
    and the console stays up;
    q with a run training stops it and quits. Each record ends `stopped`, resumable."""
    from apphelp import fill, log_text, make_app, ready, sync, wait_for
    from core.follow import live_runs

    app = make_app(tmp_path, executor=RayExecutor(str(tmp_path / "runs"), cluster=cluster))

    @sync
    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: ready(app))
            await fill(pilot, app, epochs="100", train_fraction="0.05", batch_size="100", device="cpu")
            await pilot.press("a")  # quick-demo: two Ray tasks
            await wait_for(pilot, lambda: len(app.views) == 2 and all(v.metrics for v in app.views), timeout=240)
            one, other = app.views
            app.table.focus()
            app.table.move_cursor(row=app.table.get_row_index(one.key))
            await pilot.press("x")  # that task's run only (a stop request in its folder)
            await wait_for(pilot, lambda: one.status != "running", timeout=240)
            assert f"Stopping {one.label} (a Ray task; the others go on)" in log_text(app)
            assert (one.status, other.status) == ("stopped", "running"), log_text(app)
            await pilot.press("X", "y")  # the rest
            await wait_for(pilot, lambda: not app.running, timeout=240)
            assert "Stopping the whole study here: 1 running run stops" in log_text(app)
            assert [v.status for v in app.views] == ["stopped", "stopped"], log_text(app)
            await pilot.press("s")  # the console is still up: another run, then q while it trains
            await wait_for(pilot, lambda: len(app.views) == 3 and list(app.views)[2].metrics, timeout=240)
            await pilot.press("q")
            await wait_for(pilot, lambda: app.return_code is not None, timeout=240)

    drive()
    assert app.return_code == 0
    for view in app.views:
        info = read_run(view.run_dir)
        assert info.status == "stopped" and 1 <= len(info.metrics) < 100 and resume_problem(info) is None, info.message
        assert torch.load(info.path / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics)
    assert live_runs(tmp_path / "runs") == []  # no task left writing


def test_a_run_stopped_while_it_loads_its_data_leaves_no_folder(tmp_path, monkeypatch):
    """The driver's stop lands after the task looked for it and before the run folder is made
    (the task was queued, or loading its data): nothing is recorded. The task's own code, here."""
    from core import data as data_mod
    from core.ray_executor import _train_task
    from core.stoprequest import request

    control = tmp_path / "logs" / ".ray" / "study"
    control.mkdir(parents=True)
    load = data_mod.SharedData.load

    def load_then_stop(self, *args, **kw):
        loaded = load(self, *args, **kw)
        request(control)  # the driver stops the queue now
        return loaded

    monkeypatch.setattr(data_mod.SharedData, "load", load_then_stop)
    monkeypatch.setattr("core.ray_executor.STOP_POLL_S", 600.0)  # the flag's look, once begun, lags as far as it likes
    kwargs = {**ThreadExecutor(str(tmp_path / "logs")).train_kwargs(Job(key="0", name="a-s6", config=tiny(), experiment="exp")),
              "logdir": str(tmp_path / "logs")}
    ended = _train_task(tiny(), kwargs, 1, str(control), "0")
    assert (ended.status, ended.message) == ("stopped", "stopped before the run began; nothing was recorded.")
    assert not (tmp_path / "logs" / "exp").exists()


def test_a_killed_drivers_control_folder_is_removed_by_the_next_driver(cluster, tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--name", "r", "--logdir", str(tmp_path),
                               "--ray", *TINY, "--set", "dataset=synthetic", "--set", "epochs=500"], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not read_metrics(tmp_path / "custom" / "r"):  # the driver's task trains
            assert driver.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        stale = [p for p in (tmp_path / ".ray").iterdir() if not p.name.startswith(".")]
        assert len(stale) == 1 and (stale[0] / "0.json").is_file()
    finally:
        driver.kill()
        driver.wait()
    ended = RayExecutor(str(tmp_path), cluster=cluster).run([Job(key="a", name="a", config=tiny(), experiment="exp")], lambda key, event: None)
    assert ended["a"].status == "finished"
    assert not (tmp_path / ".ray").exists()  # the dead driver's folder went, and this driver's own
