"""A study as one thing: study.json records what `run` plans, `run --resume EXPERIMENT_DIR`
finishes a study stopped mid-way (bit for bit as if it never stopped), `status` tells where it
stands. The interrupted study is interrupted by tests/studypoint.py at fixed points, never by time."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import study
from core.records import read_metrics, read_run
from apphelp import log_text, open_past, ready, sync, wait_for
from fakecifar import write_batches
from tui.app import CifarApp
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = """description = "two settings over four seeds"
seeds = [1, 2, 3, 4]
[settings]
train_fraction = 1
batch_size = 30
device = "cpu"
augment = true
regularizer = "dropout"
epochs = 3
[[runs]]
name = "a"
[[runs]]
name = "b"
optimizer = "sgd"
lr = 0.01
"""
# the queue's order (core.seeds.expand: every run with its first seed, then the second...)
ORDER = ["a-s1", "b-s1", "a-s2", "b-s2", "a-s3", "b-s3", "a-s4", "b-s4"]
FAILS, STOPS = "b-s2", "a-s3"  # then b-s3, a-s4, b-s4 never start
STATES = {"a-s1": "finished", "b-s1": "finished", "a-s2": "finished", "b-s2": "failed", "a-s3": "stopped",
          "b-s3": study.NEVER, "a-s4": study.NEVER, "b-s4": study.NEVER}


def cli(*args, threads=1, helper=()):
    """`cifar-tui ARGS` in its own process (one torch thread per run, as in the reference);
    `helper`: a script that runs it (tests/studypoint.py)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": ROOT}
    command = [sys.executable, *(helper or ["-m", "tui.cli"]), *args]
    return subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=900)


def start_study(base: Path, data: str, helper=()):
    (base / "two.toml").write_text(PRESET)
    return cli("run", str(base / "two.toml"), "--experiment", "study", "--logdir", str(base / "logs"),
               "--data-dir", data, helper=helper)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    write_batches(folder, per_batch=60, n_test=100)  # 300 training images: 10 batches of 30
    return str(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
    """The study trained without a stop."""
    base = tmp_path_factory.mktemp("reference")
    done = start_study(base, data)
    assert done.returncode == 0, done.stdout + done.stderr
    return base / "logs" / "study"


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, data):
    """The same study stopped mid-way: a-s1, b-s1, a-s2 finished, b-s2 failed in epoch 2, a-s3
    stopped by Ctrl-C in epoch 2, and b-s3, a-s4, b-s4 never started."""
    base = tmp_path_factory.mktemp("interrupted")
    done = start_study(base, data, helper=[os.path.join(ROOT, "tests", "studypoint.py"), FAILS, STOPS])
    assert done.returncode == 128 + signal.SIGINT, done.stdout + done.stderr
    return base / "logs"


def copy_of(interrupted, tmp_path) -> Path:
    shutil.copytree(interrupted, tmp_path / "logs", symlinks=True)
    return tmp_path / "logs"


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def assert_same_study(finished: Path, reference: Path):
    assert sorted(p.name for p in finished.iterdir() if p.is_dir()) == sorted(ORDER)
    for name in ORDER:
        mine, theirs = finished / name, reference / name
        assert read_run(mine).status == "finished", (name, read_run(mine).message)
        assert len(curves(mine)) == 3 and curves(mine) == curves(theirs), name
        a, b = (torch.load(d / "checkpoint.pt", weights_only=False)["model"] for d in (mine, theirs))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_the_study_records_every_planned_run_and_its_state(interrupted, capsys):
    exp = interrupted / "study"
    plan = study.read_plan(exp)
    assert [p.folder for p in plan] == ORDER and [p.seed for p in plan] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert {p.config["optimizer"] for p in plan if p.group == "b"} == {"sgd"}
    rows, has_plan = study.rows(exp)
    assert has_plan and {(r.path.name if r.path else r.planned.folder): r.state for r in rows} == STATES
    assert [r.done for r in rows] == [3, 3, 3, 1, 1, 0, 0, 0]
    assert main(["status", "--logdir", str(interrupted)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split() and line.split()[0] in ORDER}
    assert {name: " ".join(line[3:-1]) for name, line in lines.items()} == STATES
    assert lines["b-s2"][-1] == "1/3" and lines["a-s1"][-1] == "3/3"
    assert "8 runs: 3 finished, 1 failed, 1 stopped, 3 never started" in out


def test_one_resume_finishes_the_study_bit_for_bit(interrupted, reference, tmp_path):
    logs = copy_of(interrupted, tmp_path)
    done = cli("run", "--resume", str(logs / "study"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_study(logs / "study", reference)
    again = cli("run", "--resume", str(logs / "study"))  # a finished study says so
    assert again.returncode == 0 and again.stdout.strip() == \
        "study: every run of the study has ended (8 of 8 finished); nothing to do."


def test_parallel_2_finishes_the_study_bit_for_bit(interrupted, reference, tmp_path):
    logs = copy_of(interrupted, tmp_path)
    done = cli("run", "--resume", str(logs / "study"), "--parallel", "2", "--logdir", str(tmp_path / "x"),
               threads=2)  # one thread per worker, as in the reference
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_study(logs / "study", reference)
    assert not (tmp_path / "x").exists()  # new runs go where their study is, whatever --logdir says


def test_several_resume_targets_add_up(interrupted, reference, tmp_path):
    """Two --resume: both run folders carry on (a second used to replace the first)."""
    logs = copy_of(interrupted, tmp_path)
    done = cli("run", "--resume", str(logs / "study" / STOPS), "--resume", str(logs / "study" / FAILS))
    assert done.returncode == 0, done.stdout + done.stderr
    for name in (STOPS, FAILS):
        assert curves(logs / "study" / name) == curves(reference / name)
    rows, _ = study.rows(logs / "study")
    assert [r.state for r in rows].count(study.NEVER) == 3  # run folders only: the study is not finished


@sync
async def test_r_on_an_experiment_finishes_its_study_bit_for_bit(interrupted, reference, tmp_path):
    logs = copy_of(interrupted, tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every run of the reference
    try:
        app = CifarApp(logdir=str(logs))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: ready(app))
            open_past(app, [logs / "study" / "a-s1"])  # a finished row: nothing of its own to resume
            await pilot.press("escape", "r")
            await wait_for(pilot, lambda: len(app.views) == 6)
            await wait_for(pilot, lambda: not app.running and all(v.status != "queued" for v in app.views), 900)
            assert "Finishing the study study: resuming 2, starting 3 that never began." in log_text(app)
            assert sorted(v.label for v in app.views) == sorted(["a-s1 (past)", FAILS, STOPS, "b-s3", "a-s4", "b-s4"])
            assert all(v.status == "finished" for v in app.views), [(v.label, v.status, v.message) for v in app.views]
    finally:
        torch.set_num_threads(threads)
    assert_same_study(logs / "study", reference)


def hold_as_writer(run_dir: Path):
    """Take a run folder's lock as a training process does (its owner written in .lock)."""
    import fcntl
    import socket
    import time

    (run_dir / "status.json").unlink()
    lock = open(run_dir / ".lock", "r+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.truncate(0)
    lock.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}))
    lock.flush()
    return lock


def test_status_names_a_running_runs_writer_and_finishing_leaves_that_run_to_it(interrupted, tmp_path, capsys):
    import socket

    logs = copy_of(interrupted, tmp_path)
    with hold_as_writer(logs / "study" / STOPS):
        assert main(["status", "study", "--logdir", str(logs)]) == 0
        line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(STOPS))
        assert line.split()[3:] == ["running", "1/3", "pid", str(os.getpid()), "on", socket.gethostname()]
        plan = study.finish(logs / "study")
        assert sorted(Path(j.resume_dir).name if j.resume_dir else j.folder for j in plan.jobs) == \
            sorted([FAILS, "b-s3", "a-s4", "b-s4"])
        assert plan.notes == [f"left to the process that trains or queues them: {STOPS} "
                              f"(pid {os.getpid()} on {socket.gethostname()})."]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_sentence(capsys, expected: str) -> None:
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("damage, expected", [
    (lambda exp: (exp / "study.json").write_text('{"runs": [{"name": "a-s1"'), "study.json is damaged (it is not valid JSON)"),
    (lambda exp: (exp / "study.json").write_text(json.dumps({"runs": [{"name": "x", "group": "x", "seed": 1,
                                                                        "folder": "../../elsewhere", "config": {}}]})),
     "study.json is damaged (its run 1's 'folder' is \"../../elsewhere\", not a folder name)"),
    (lambda exp: ((exp / "study.json").unlink(), (exp / "study.json").symlink_to(exp / "a-s1" / "config.json")),
     "study.json is damaged (it is a symbolic link, not a file of the run)"),
    (lambda exp: (exp / STOPS / "config.json").write_text('{"config": '), f"{STOPS}/config.json is damaged"),
])
def test_a_damaged_study_is_one_sentence_exit_2_and_nothing_changes(interrupted, tmp_path, capsys, damage, expected):
    logs = copy_of(interrupted, tmp_path)
    damage(logs / "study")
    before = snapshot(logs)
    assert main(["run", "--resume", str(logs / "study")]) == 2
    one_sentence(capsys, expected)
    assert snapshot(logs) == before


def test_finishing_may_change_only_what_a_resume_may(interrupted, tmp_path, capsys):
    logs = copy_of(interrupted, tmp_path)
    before = snapshot(logs)
    assert main(["run", "--resume", str(logs / "study"), "--set", "lr=0.5"]) == 2
    one_sentence(capsys, "lr: cannot change when resuming")
    assert snapshot(logs) == before
    plan = study.finish(logs / "study", {"epochs": 5})  # more epochs: for the runs resumed and those started
    assert [j.config.epochs for j in plan.jobs] == [5] * 5


def test_a_damaged_study_refuses_status_and_new_starts(interrupted, tmp_path, capsys):
    logs = copy_of(interrupted, tmp_path)
    (logs / "study" / "study.json").write_text("[]")
    before = snapshot(logs)
    assert main(["status", "--logdir", str(logs)]) == 2
    one_sentence(capsys, "study.json is damaged (it holds a JSON list, not an object)")
    assert main(["run", "quick-demo", "--experiment", "study", "--logdir", str(logs)]) == 2
    one_sentence(capsys, "study.json is damaged")
    assert snapshot(logs) == before


@pytest.mark.parametrize("target", ["nowhere", "empty", "study/a-s1/metrics.jsonl"])
def test_a_folder_that_is_neither_is_one_sentence_exit_2(interrupted, tmp_path, capsys, target):
    logs = copy_of(interrupted, tmp_path)
    (logs / "empty").mkdir()
    before = snapshot(logs)
    assert main(["run", "--resume", str(logs / target), "--logdir", str(logs)]) == 2
    one_sentence(capsys, f"{logs / target} is not a run folder (no config.json) or an experiment folder")
    assert main(["status", str(logs / target), "--logdir", str(logs)]) == 2
    one_sentence(capsys, f"{logs / target} is not an experiment folder")
    assert snapshot(logs) == before


def test_without_a_study_record_the_runs_it_has_are_finished_and_it_says_the_rest_is_unknown(interrupted, tmp_path,
                                                                                            capsys):
    logs = copy_of(interrupted, tmp_path)
    (logs / "study" / "study.json").unlink()
    plan = study.finish(logs / "study")
    assert sorted(Path(j.resume_dir).name for j in plan.jobs) == sorted([FAILS, STOPS])
    assert plan.notes == [f"{logs / 'study'} has no study.json (it was started before studies were recorded), "
                          "so runs that never started cannot be known; only the runs it has are finished."]
    assert (plan.finished, plan.total) == (3, 5)
    assert main(["status", str(logs / "study")]) == 0
    out = capsys.readouterr().out
    assert "(no study.json: runs that never started are not known)" in out and "5 runs: 3 finished, 1 failed, 1 stopped" in out


PLANNER = """
import sys
from core.config import make_config
from core.job import Job
from core.study import plan, release
sys.stdin.readline()  # everyone starts at once
for i in range({n}):
    plan(sys.argv[1], "exp", [Job(name=f"{{sys.argv[2]}}-{{i}}", config=make_config({{"seed": i}}), group="g")])
print("planned", flush=True)
sys.stdin.readline()  # holds its planner lock until told to end
if sys.argv[2] != "p0":  # as `run` does; p0 ends as a killed process would, its lock file left behind
    release()
"""


CLAIMER = """
import sys
from core import study
print(len(study.claim(sys.argv[1], study.finish(sys.argv[1]).jobs)), flush=True)
sys.stdin.readline()
study.release()
"""


def test_processes_planning_at_once_lose_none_of_each_others_runs_and_queue_them_until_they_end(tmp_path, capsys):
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [subprocess.Popen([sys.executable, "-c", PLANNER.format(n=25), str(tmp_path / "logs"), f"p{k}"], cwd=ROOT,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in range(4)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    assert [p.stdout.readline() for p in procs] == ["planned\n"] * 4
    exp = tmp_path / "logs" / "exp"
    plan = study.read_plan(exp)
    assert sorted(p.name for p in plan) == sorted(f"p{k}-{i}" for k in range(4) for i in range(25))
    assert len({p.folder for p in plan}) == 100
    rows, _ = study.rows(exp)
    assert {r.state for r in rows} == {study.QUEUED}
    assert study.finish(exp).jobs == []  # their planners will start them
    assert main(["run", "--resume", str(exp)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("exp: left to the process that trains or queues them: ") and "ended" not in out
    assert out.endswith(" and 94 more.\n") and out.count(" (pid ") == 6
    assert main(["status", str(exp)]) == 0
    assert f"queued  0/40    pid {procs[0].pid} on" in capsys.readouterr().out
    for p in procs:
        p.communicate("end\n", timeout=60)
    rows, _ = study.rows(exp)
    assert {r.state for r in rows} == {study.NEVER}
    plan = study.finish(exp)
    assert len(plan.jobs) == 100
    other = subprocess.Popen([sys.executable, "-c", CLAIMER, str(exp)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline() == "100\n"  # another finisher got there first
    assert study.claim(exp, plan.jobs) == []  # so this one starts none of them
    other.communicate("end\n", timeout=60)
    study.release()
    assert not list(exp.glob(".queue-*"))  # p0's too, left by a planner that ended unreleased: the next one cleared it


def test_a_start_that_trains_nothing_takes_back_only_what_it_added(interrupted, tmp_path, monkeypatch, capsys):
    """The study started again while its data cannot be had: its three runs that never began are
    taken over, then given back; the five it added are taken back; the study is as it was."""
    import core.data

    def no_data(self, config, device):
        during.append([p.folder for p in study.read_plan(logs / "study")])
        raise core.data.DataError("the data set is gone; put it back.")

    during = []
    logs = copy_of(interrupted, tmp_path)
    before = study.read_plan(logs / "study")
    (tmp_path / "two.toml").write_text(PRESET)
    monkeypatch.setattr(core.data.SharedData, "load", no_data)
    data_dir = before[0].config["data_dir"]
    assert main(["run", str(tmp_path / "two.toml"), "--experiment", "study", "--logdir", str(logs),
                 "--data-dir", data_dir]) == 1
    assert "the data set is gone" in capsys.readouterr().out
    assert during[0] == ORDER + [f"{name}-2" for name in ORDER[:5]]  # the runs that never began: taken over
    after = study.read_plan(logs / "study")
    assert [(p.folder, p.config) for p in after] == [(p.folder, p.config) for p in before]
    assert {(r.path.name if r.path else r.planned.folder): r.state for r in study.rows(logs / "study")[0]} == STATES


def test_ray_gets_the_same_queue_to_finish_the_study(interrupted, tmp_path, monkeypatch):
    """`--ray` takes the queue `run` would train here: the resumes and the runs that never began,
    each in the folder promised to it (Ray itself is exercised in test_ray.py)."""
    import tui.headless
    from core.placement import RAY

    logs = copy_of(interrupted, tmp_path)
    given = {}

    def run_queue(jobs, **kwargs):
        given.update(kwargs, jobs=jobs, plan=study.read_plan(logs / "study"))
        return 0

    monkeypatch.setattr(tui.headless, "run_queue", run_queue)
    assert main(["run", "--resume", str(logs / "study"), "--ray", "--logdir", str(tmp_path / "x")]) == 0
    assert [(j.resume_dir and Path(j.resume_dir).name, j.folder) for j in given["jobs"]] == \
        [(FAILS, None), (STOPS, None), (None, "b-s3"), (None, "a-s4"), (None, "b-s4")]
    assert given["logdir"] == str(logs) and given["experiment"] is None and given["placement"].kind == RAY
    claimed = {p.folder: p.by["pid"] for p in given["plan"]}  # the runs that never began: this process's now
    assert [claimed[f] == os.getpid() for f in ORDER] == [False] * 5 + [True] * 3


@sync
async def test_r_with_nothing_to_resume_starts_the_presets_runs_that_never_began(tmp_path, monkeypatch):
    """A study planned by a process that ended before its runs began: `r` with no row starts them."""
    from apphelp import FAST, tiny_synthetic
    from core.config import make_config
    from core.job import Job

    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    config = make_config({"dataset": "synthetic", "epochs": 1, **FAST})
    study.plan(tmp_path / "runs", "quick-demo", [Job(name="baseline", config=config)])
    study.release()  # its planner is gone: never started
    app = CifarApp(logdir=str(tmp_path / "runs"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: len(app.views) == 1 and not app.running and app.views.get("r1").status != "queued")
        assert "Finishing the study quick-demo: resuming 0, starting 1 that never began." in log_text(app)
        assert app.views.get("r1").status == "finished"
    assert read_run(tmp_path / "runs" / "quick-demo" / "baseline").status == "finished"
    assert [r.state for r in study.rows(tmp_path / "runs" / "quick-demo")[0]] == ["finished"]
