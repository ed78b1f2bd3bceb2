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
from fakecifar import write_batches
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
