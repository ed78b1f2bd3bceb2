"""Headless runs as a user starts them (a separate `python -m tui.cli run` process), killed
and signalled while they train, then resumed."""
import os
import pty
import signal
import subprocess
import sys
import time

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


def wait_for_epoch(proc, run_dir, epoch, timeout=120, drain=None):
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


def tensorboard(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, data, capsys):
    ref = start(tmp_path, data, "ref", 4)
    victim = start(tmp_path, data, "victim", 4)
    run_dir = tmp_path / "logs" / "custom" / "victim"
    row = wait_for_epoch(victim, run_dir, 2)
    # while it trains, a second writer is refused (one sentence, exit 2)
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "is being written by another run right now" in capsys.readouterr().err
    time.sleep(0.3 * row["seconds"])  # well inside epoch 3
    victim.kill()
    assert victim.wait() == -signal.SIGKILL
    assert [r["epoch"] for r in read_metrics(run_dir)] == [1, 2]  # killed mid-epoch 3
    killed = read_run(run_dir)
    assert killed.status == "interrupted" and "--resume" in killed.message

    resumed = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--resume", str(run_dir)],
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming at epoch 3" in resumed.stdout
    assert ref.wait(timeout=180) == 0
    ref_dir = tmp_path / "logs" / "custom" / "ref"

    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and [r["epoch"] for r in read_metrics(run_dir)] == [1, 2, 3, 4]
    assert curves(run_dir) == curves(ref_dir)  # bit for bit, epochs 1-2 before and 3-4 after the kill
    scalars = tensorboard(run_dir)
    assert set(scalars) == {TAGS[k] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
    for key, tag in TAGS.items():
        if tag in scalars:
            assert [s for s, _ in scalars[tag]] == [1, 2, 3, 4]
            assert [v for _, v in scalars[tag]] == pytest.approx([r[key] for r in read_metrics(run_dir)], rel=1e-6)
    mine, theirs = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (run_dir, ref_dir))
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
        assert proc.wait(timeout=60) == 128 + signals[name], name
        run_dir = tmp_path / "logs" / "custom" / name
        info = read_run(run_dir)
        assert info.status == "stopped" and f"--resume {run_dir}" in info.message
        checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
        assert checkpoint["epoch"] == len(info.metrics) >= 1
        assert [r["epoch"] for r in checkpoint["metrics"]] == [r["epoch"] for r in info.metrics]
        if name != "hup":  # the hung-up run's output went nowhere
            out = (tmp_path / f"{name}.out").read_text()
            assert "stopped" in out and "Traceback" not in out
