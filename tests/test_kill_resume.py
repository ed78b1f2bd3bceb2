"""Headless runs as a user starts them (a separate `python -m tui.cli run` process), killed
and signalled while they train, then resumed. Kills happen on an observed state (a file the
run writes, or tests/killpoint.py's marker at a chosen moment), never after a sleep."""
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.records import TAGS, read_metrics, read_run
from fakecifar import write_batches
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One thread per process: the runs below train side by side, and the same thread count in
# every process keeps the CPU arithmetic identical, so curves can be compared bit for bit.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
SETTINGS = ["--set", "train_fraction=1", "--set", "batch_size=30", "--set", "device=cpu",
            "--set", "augment=true", "--set", "regularizer=dropout"]  # both RNGs in play


@pytest.fixture
def data(tmp_path):
    write_batches(tmp_path / "data", per_batch=60, n_test=100)  # 300 training images, 10 batches
    return str(tmp_path / "data")


def start(tmp_path, data, name, epochs, *extra, terminal=None):
    out = terminal or open(tmp_path / f"{name}.out", "w")
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--logdir", str(tmp_path / "logs"),
                             "--data-dir", data, "--name", name, "--set", f"epochs={epochs}", *SETTINGS, *extra],
                            cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def wait_for_epoch(proc, run_dir, epoch, timeout=600, drain=None):
    """Block until `epoch` is in metrics.jsonl and its checkpoint is saved; returns its row.
    `drain`: a pty master to keep reading, so the run never blocks on a full terminal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it was interrupted"
        if drain is not None:
            try:
                os.read(drain, 1 << 16)
            except BlockingIOError:
                pass
        rows = read_metrics(run_dir)
        ckpt = os.path.join(run_dir, "checkpoint.pt")
        if (len(rows) >= epoch and os.path.exists(ckpt)
                and os.stat(ckpt).st_mtime_ns >= os.stat(os.path.join(run_dir, "metrics.jsonl")).st_mtime_ns):
            return rows[epoch - 1]
        time.sleep(0.05)
    raise AssertionError(f"epoch {epoch} not written within {timeout}s")


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 4-epoch run that every killed-and-resumed one must equal, bit for bit."""
    tmp_path = tmp_path_factory.mktemp("ref")
    write_batches(tmp_path / "data", per_batch=60, n_test=100)
    ref = start(tmp_path, str(tmp_path / "data"), "ref", 4)
    assert ref.wait(timeout=300) == 0, (tmp_path / "ref.out").read_text()
    return tmp_path / "logs" / "custom" / "ref"


def killed_at(tmp_path, data, moment):
    """Start a 4-epoch run, wait until it reaches `moment` (tests/killpoint.py), SIGKILL it."""
    marker = tmp_path / f"{moment}.reached"
    out = open(tmp_path / f"{moment}.out", "w")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "killpoint.py"), moment, str(marker),
                             "run", "--logdir", str(tmp_path / "logs"), "--data-dir", data, "--name", moment,
                             "--set", "epochs=4", *SETTINGS], cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=out)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, (tmp_path / f"{moment}.out").read_text()
        assert time.monotonic() < deadline, f"the run never reached {moment}"
        time.sleep(0.05)
    return proc


# moment -> (epochs in metrics.jsonl when killed, epoch of checkpoint.pt then (0: none), first epoch the resume trains)
MOMENTS = {
    "first-epoch": ([], 0, 1),
    "mid-epoch": ([1, 2], 2, 3),
    "after-metrics": ([1, 2], 1, 2),
    "in-checkpoint": ([1, 2], 1, 2),
    "after-last": ([1, 2, 3, 4], 4, None),
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_kill_at_any_moment_then_resume_keeps_every_epoch_exactly_once(tmp_path, data, capsys, reference, moment):
    from tbread import fast, slow

    recorded, saved, first = MOMENTS[moment]
    victim = killed_at(tmp_path, data, moment)
    run_dir = tmp_path / "logs" / "custom" / moment
    if moment == "mid-epoch":  # while it trains, a second writer is refused (one sentence, exit 2)
        assert main(["run", "--resume", str(run_dir)]) == 2
        assert "is being written by another run right now" in capsys.readouterr().err
    victim.kill()
    assert victim.wait() == -signal.SIGKILL
    assert [r["epoch"] for r in read_metrics(run_dir)] == recorded
    ckpt = run_dir / "checkpoint.pt"
    assert (torch.load(ckpt, weights_only=False)["epoch"] if ckpt.exists() else 0) == saved
    killed = read_run(run_dir)
    assert killed.status == "interrupted" and "--resume" in killed.message
    if moment == "in-checkpoint":
        assert list(run_dir.glob(".checkpoint.pt.*"))  # the torn temp file the resume clears
    if moment == "after-metrics":  # the same folder with checkpoint.pt deleted: refused, nothing changed
        shutil.copytree(run_dir, tmp_path / "logs" / "custom" / "deleted")
        deleted = tmp_path / "logs" / "custom" / "deleted"
        (deleted / "checkpoint.pt").unlink()
        before = snapshot(deleted)
        capsys.readouterr()
        assert main(["run", "--resume", str(deleted)]) == 2
        err = capsys.readouterr().err
        assert "would lose recorded epochs" in err and err.count("\n") == 1 and snapshot(deleted) == before

    # in another process: resumed in this one, its event file could sort before the killed run's
    # (TensorBoard orders them by name: start second, host, then pid, and this pid is the lower)
    resumed = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--resume", str(run_dir)],
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    if first is None:
        assert "already finished all 4 epochs" in resumed.stdout
    else:
        assert (f"resuming at epoch {first}" in resumed.stdout) == (first > 1)

    assert [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    assert curves(run_dir) == curves(reference)  # bit for bit, before and after the kill
    assert not list(run_dir.glob(".checkpoint.pt.*"))
    rows = read_metrics(run_dir)
    for loader in (slow, fast):
        scalars = loader(run_dir)
        assert set(scalars) == {TAGS[k] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
        for key, tag in TAGS.items():
            if tag in scalars:
                assert scalars[tag] == [(r["epoch"], pytest.approx(r[key], rel=1e-6)) for r in rows], (loader.__name__, tag)
    mine, theirs = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (run_dir, reference))
    assert mine["epoch"] == theirs["epoch"] == 4
    assert all(torch.equal(mine["model"][k], theirs["model"][k]) for k in theirs["model"])
    assert torch.equal(mine["rng"]["data"], theirs["rng"]["data"])
    assert read_run(run_dir).status == "finished"


def test_sigint_sigterm_sighup_stop_with_128_plus_n_and_keep_the_checkpoint(tmp_path, data):
    """SIGHUP as over SSH: the run's terminal (a pty) is gone when the signal arrives, so every
    later write to it fails; the run must still stop cleanly with 129."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    signals = {"hup": signal.SIGHUP, "int": signal.SIGINT, "term": signal.SIGTERM}
    procs = {name: start(tmp_path, data, name, 50, terminal=slave if name == "hup" else None)
             for name in signals}
    os.close(slave)
    for name, proc in procs.items():
        wait_for_epoch(proc, tmp_path / "logs" / "custom" / name, 1, drain=master if name == "hup" else None)
        if name == "hup":
            os.close(master)  # the SSH connection drops
        proc.send_signal(signals[name])
    for name, proc in procs.items():
        assert proc.wait(timeout=300) == 128 + signals[name], name
        run_dir = tmp_path / "logs" / "custom" / name
        info = read_run(run_dir)
        assert info.status == "stopped" and f"--resume {run_dir}" in info.message
        checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
        assert checkpoint["epoch"] == len(info.metrics) >= 1
        assert [r["epoch"] for r in checkpoint["metrics"]] == [r["epoch"] for r in info.metrics]
        if name != "hup":  # the hung-up run's output went nowhere
            out = (tmp_path / f"{name}.out").read_text()
            assert "stopped" in out and "Traceback" not in out
