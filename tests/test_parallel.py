"""Runs in worker processes: `run --parallel`, the process executor's faults and stops, and
`bench --concurrent`."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from eventorder import in_trainer_order
from core.bench_concurrent import measure_concurrent
from core.config import make_config
from core.events import EpochDone, RunStarted
from core.executor import ThreadExecutor
from core.processes import ProcessExecutor
from core.job import Job
from core.follow import stop_writer
from core.records import lock_owner, read_metrics, read_run
from core.resume import resume_problem
from tui.cli import main
from tui.benchprint import format_concurrent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--set", "epochs=2", "--set", "train_fraction=0.05", "--set", "batch_size=100", "--set", "device=cpu"]
RUNS = ("baseline", "augmentation+normalization")  # quick-demo's two: with and without augmentation's RNG


def cli(*args, threads, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def wait_until(condition, timeout=600):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_parallel_2_leaves_the_same_records_as_the_runs_one_after_the_other(tmp_path):
    """One thread per run both ways: the CPU arithmetic is the same, so the curves are bit for bit."""
    serial = cli("run", "quick-demo", "--logdir", str(tmp_path / "serial"), *TINY, threads=1)
    out_serial, _ = serial.communicate(timeout=600)
    parallel = cli("run", "quick-demo", "--logdir", str(tmp_path / "parallel"), "--parallel", "2", *TINY, threads=2)
    out, _ = parallel.communicate(timeout=600)
    assert serial.returncode == 0, out_serial
    assert parallel.returncode == 0, out
    for name in RUNS:
        a, b = (tmp_path / kind / "quick-demo" / name for kind in ("serial", "parallel"))
        assert read_run(b).status == "finished"
        assert len(curves(b)) == 2 and curves(a) == curves(b)
        mine, theirs = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (a, b))
        assert all(torch.equal(mine["model"][k], theirs["model"][k]) for k in theirs["model"])
        assert f"{name}  epoch 2/2" in out and f"{name}: finished" in out  # the usual lines, per run


def test_a_worker_killed_fails_only_its_run_and_the_queue_goes_on(tmp_path):
    config = make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 100, "device": "cpu",
                          "train_fraction": 0.05})
    jobs = [Job(key="victim", name="victim", config=config.replace(epochs=3), experiment="exp"),
            Job(key="a", name="a", config=config, experiment="exp"),
            Job(key="b", name="b", config=config.replace(seed=5), experiment="exp")]
    events = {job.key: [] for job in jobs}

    def on_event(key, event):
        events[key].append(event)
        if key == "victim" and isinstance(event, EpochDone) and event.epoch == 1:
            os.kill(lock_owner(event_dir(events["victim"]))["pid"], signal.SIGKILL)

    ended = ProcessExecutor(str(tmp_path), parallel=2, devices=["cpu"], threads=1).run(jobs, on_event)
    victim = ended["victim"]
    assert (victim.status, victim.cause) == ("failed", "worker")
    starts = {key: next(e for e in said if isinstance(e, RunStarted)) for key, said in events.items()}
    assert (starts["victim"].worker, starts["a"].worker) == (1, 2)  # where each trains: its worker slot
    assert len({s.pid for s in starts.values()}) == 3 and os.getpid() not in {s.pid for s in starts.values()}
    assert "killed by SIGKILL" in victim.message and f"--resume {victim.run_dir}" in victim.message
    info = read_run(victim.run_dir)
    assert info.status == "failed" and resume_problem(info) is None and 1 <= len(info.metrics) < 3
    assert ended["a"].status == ended["b"].status == "finished"  # b started after the victim died
    assert all(in_trainer_order(e) for e in events.values())

    # the killed run resumes in a worker too, from its last finished epoch
    again = {}
    resumed = ProcessExecutor(str(tmp_path), parallel=1, devices=["cpu"], threads=1).run(
        [Job(key="v", name="victim", config=config.replace(epochs=3), experiment="exp", resume_dir=victim.run_dir)],
        lambda key, event: again.setdefault(type(event), []).append(event))
    assert resumed["v"].status == "finished"
    # the kill lands when epoch 1's row is on disk, maybe before its checkpoint: then epoch 1 is redone
    first = again[RunStarted][0].first_epoch
    assert first in (1, 2) and first <= len(info.metrics) + 1
    assert [e.epoch for e in again[EpochDone]] == list(range(first, 4))
    assert [r["epoch"] for r in read_run(victim.run_dir).metrics] == [1, 2, 3]
    assert [r["epoch"] for r in read_metrics(victim.run_dir)] == [1, 2, 3]


def event_dir(events):
    return next(e.run_dir for e in events if isinstance(e, RunStarted))


def test_ctrl_c_stops_every_worker_cleanly_and_resumably(tmp_path):
    """Ctrl-C reaches the whole process group, as from a terminal: the workers leave it to the
    parent, which stops each within a batch."""
    proc = cli("run", "quick-demo", "--logdir", str(tmp_path), "--parallel", "2", *TINY, "--set", "epochs=50",
               threads=2, start_new_session=True)
    dirs = [tmp_path / "quick-demo" / name for name in RUNS]
    wait_until(lambda: all(read_metrics(d) for d in dirs) or proc.poll() is not None)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, out
    for d in dirs:
        info = read_run(d)
        assert info.status == "stopped" and f"--resume {d}" in info.message, info.message
        assert torch.load(d / "checkpoint.pt", weights_only=False)["epoch"] == len(info.metrics) >= 1
    assert "Traceback" not in out


@pytest.mark.parametrize("args, expected", [
    (["--parallel", "0"], "--parallel: 0 is too few; use 1 or more, e.g. --parallel 2."),
    (["--parallel", "abc"], "--parallel: 'abc' is not a whole number; use 1 or more, e.g. --parallel 2."),
    (["--devices", "cuda:9"], "--devices: cuda:9 does not exist"),
    (["--devices", "cpu,cpu"], "--devices names cpu twice; name each device once"),
    (["--devices", "gpu"], "--devices: gpu is not a device; use cpu, cuda:N or mps"),
])
def test_bad_placement_is_one_sentence_and_exit_2(tmp_path, capsys, args, expected):
    assert main(["run", "quick-demo", "--logdir", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("value", ["0", "two", "1,,2"])
def test_bad_concurrent_is_one_sentence_and_exit_2(capsys, value):
    assert main(["bench", "--concurrent", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cifar-tui: --concurrent:") and err.count("\n") == 1


def best_epoch_rate(config, train_images: int, test_images: int, tries: int = 3) -> float:
    """Images/s of the trainer's epoch here, best of a few (a warm-up first): a ceiling for a worker."""
    from core.bench import bench_data
    from core.trainer import prepare, train_epoch

    run = prepare(config, bench_data(config, train_images, test_images)[0], torch.device("cpu"))
    rates = []
    for i in range(tries + 1):
        started = time.monotonic()
        sums = train_epoch(run, 1, lambda event: None, threading.Event(), "bench")
        torch.stack([s.float() for s, _ in sums.values()]).tolist()
        rates.append(train_images / (time.monotonic() - started))
    return max(rates[1:])


def test_bench_concurrent_measures_each_k_with_the_threads_split():
    config = make_config({"dataset": "synthetic", "device": "cpu", "batch_size": 64})
    results, walls = [], []
    for k in (1, 2):  # each k on its own, so its wall time here bounds its timed span
        started = time.monotonic()
        results += measure_concurrent(config, [k], 256, 64, repeats=1)
        walls.append(time.monotonic() - started)
    assert [r.k for r in results] == [1, 2] and not any(r.error for r in results)
    total = torch.get_num_threads()
    assert [r.threads for r in results] == [total, max(1, total // 2)]
    # k runs trained 256 images each within the call: at least that many images over its wall time ...
    for r, wall in zip(results, walls):
        assert r.images_per_s >= r.k * 256 / wall
    # ... and no faster than a few times the best this process trains the same epoch at
    best = best_epoch_rate(config, 256, 64)
    assert all(r.per_run() <= 4 * best for r in results), ([r.per_run() for r in results], best)
    assert results[1].per_run() == pytest.approx(results[1].images_per_s / 2)
    lines = format_concurrent(results, config).splitlines()
    k2 = lines[3].split()
    assert k2[0] == "2" and float(k2[-1].rstrip("x")) == pytest.approx(results[1].images_per_s / results[0].images_per_s, abs=0.01)


def tiny(**kw):
    return make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 100, "device": "cpu",
                        "train_fraction": 0.05, **kw})


def test_stopping_a_followed_workers_run_stops_only_that_run(tmp_path):
    """What the console's `x` does on a run it follows: SIGTERM to the pid its lock names."""
    said = []

    def on_event(key, event):
        if key == "x" and isinstance(event, EpochDone) and event.epoch == 1:
            said.append(stop_writer(event_dir([started[key]])))
        if isinstance(event, RunStarted):
            started[key] = event

    started = {}
    jobs = [Job(key="x", name="x", config=tiny(epochs=50), experiment="exp"),
            Job(key="a", name="a", config=tiny(), experiment="exp")]
    ended = ProcessExecutor(str(tmp_path), parallel=2, devices=["cpu"], threads=1).run(jobs, on_event)
    assert said[0].startswith("asked pid ") and said[0].endswith(" to stop x after its current batch.")
    x = read_run(ended["x"].run_dir)
    assert ended["x"].status == x.status == "stopped" and resume_problem(x) is None
    assert ended["a"].status == "finished"
    assert stop_writer(ended["a"].run_dir) == f"{ended['a'].run_dir} is not being written now; nothing to stop."


def test_the_thread_executor_trains_in_turn_and_a_stop_ends_the_queue(tmp_path):
    stop = threading.Event()
    events = []

    def on_event(key, event):
        events.append((key, type(event).__name__))
        if isinstance(event, EpochDone):
            stop.set()

    ended = ThreadExecutor(str(tmp_path)).run([Job(key="1", name="one", config=tiny(), experiment="exp"),
                                              Job(key="2", name="two", config=tiny(), experiment="exp")],
                                              on_event, stop)
    assert list(ended) == ["1"] and ended["1"].status == "stopped" and ended["1"].epochs_done == 1
    assert {key for key, _ in events} == {"1"} and events[-1] == ("1", "RunEnded")
