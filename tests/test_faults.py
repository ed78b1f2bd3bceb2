"""Faults inside a run: divergence in a queue, GPU out of memory, a full disk, a torn
metrics line, a second Ctrl-C, resuming what cannot or need not be resumed."""
import errno
import json
import os
import signal
import threading
import weakref
from io import StringIO

import pytest
import torch
from rich.console import Console

import core.lifecycle as lifecycle
import core.records as records
import core.trainer as trainer
from core.config import make_config
from core.data import synthetic
from core.events import BatchProgress, EpochDone, RunEnded
from core.job import Job
from core.jobqueue import JobQueue
from core.lifecycle import train
from core.records import read_metrics, read_run
from core.resume import resumable_runs, resume_config
from tui.headless import run_queue, stop_on_signals

SMALL = synthetic(300, 100)
TIMING = ("seconds", "time")


def cfg(**kw):
    return make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 50, "device": "cpu",
                        "train_fraction": 1.0, **kw})


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in read_metrics(run_dir)]


def tb_steps(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [s.step for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 3-epoch run that the interrupted ones must match."""
    end = train(cfg(), logdir=str(tmp_path_factory.mktemp("ref")), run="ref", dataset=SMALL)
    assert end.status == "finished"
    return end.run_dir


def queue(tmp_path, jobs):
    out = StringIO()
    code = run_queue(jobs, logdir=str(tmp_path), experiment="q", console=Console(file=out, width=200))
    return code, out.getvalue()


def test_a_diverging_run_is_marked_and_the_queue_moves_on(tmp_path, cifar_dir):
    preset = tmp_path / "nan-then-ok.toml"
    preset.write_text(f'[settings]\ndata_dir = "{cifar_dir}"\ntrain_fraction = 1.0\nbatch_size = 50\n'
                      'device = "cpu"\nepochs = 2\n'
                      '[[runs]]\nname = "nan"\noptimizer = "sgd"\nlr = 1e6\n'
                      '[[runs]]\nname = "ok"\n')
    from tui.cli import main

    assert main(["run", str(preset), "--logdir", str(tmp_path / "logs")]) == 1
    nan, ok = read_run(tmp_path / "logs" / "nan-then-ok" / "nan"), read_run(tmp_path / "logs" / "nan-then-ok" / "ok")
    assert nan.status == "diverged" and "diverged at epoch 1" in nan.message and nan.metrics == []
    assert ok.status == "finished" and [m["epoch"] for m in ok.metrics] == [1, 2]


def test_out_of_memory_fails_the_run_frees_it_and_the_queue_goes_on(tmp_path, monkeypatch, cifar_dir):
    models, freed_at_end = [], []
    build = trainer.build_model

    def build_model(config):  # the first run's model runs out of memory in its second epoch
        model = build(config)
        models.append(weakref.ref(model))
        if len(models) == 1:
            calls = [0]
            forward = model.forward

            def oom(x):
                calls[0] += 1
                if calls[0] > 5:  # an epoch: 4 training batches and 1 test batch
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
                return forward(x)

            model.forward = oom
        return model

    class Watch:  # at RunEnded, has the failed run's model been freed?
        def __call__(self, event):
            if isinstance(event, RunEnded) and event.run == "big":
                freed_at_end.append(models[0]() is None)

    monkeypatch.setattr(trainer, "build_model", build_model)
    original_end = lifecycle._end
    monkeypatch.setattr(lifecycle, "_end", lambda emit, *a, **kw: original_end(lambda e: (Watch()(e), emit(e)), *a, **kw))
    files = {"dataset": "cifar10", "data_dir": cifar_dir}  # 200 training images
    code, out = queue(tmp_path, [("big", cfg(epochs=2, **files)), ("next", cfg(epochs=1, **files))])
    assert code == 1
    big, nxt = read_run(tmp_path / "q" / "big"), read_run(tmp_path / "q" / "next")
    assert big.status == "failed" and "ran out of memory at batch_size 50" in big.message
    assert big.cause == "oom"
    assert "smaller batch_size" in big.message and "Traceback" not in out
    assert [m["epoch"] for m in big.metrics] == [1]  # the finished epoch is kept
    assert freed_at_end == [True]
    assert nxt.status == "finished" and len(nxt.metrics) == 1


def test_disk_full_keeps_finished_epochs_and_resume_repairs_the_records(tmp_path, monkeypatch, reference):
    """The checkpoint of epoch 2 hits ENOSPC after epoch 2 was logged; the resume must redo
    epoch 2 without showing it twice in metrics.jsonl or TensorBoard (purge_step)."""
    save = records.RunRecord.save_checkpoint
    calls = []

    def save_checkpoint(self, state):
        calls.append(state["epoch"])
        if state["epoch"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        save(self, state)

    monkeypatch.setattr(records.RunRecord, "save_checkpoint", save_checkpoint)
    end = train(cfg(), logdir=str(tmp_path), run="full", dataset=SMALL)
    assert end.status == "failed" and end.epochs_done == 1
    assert "the disk is full" in end.message and f"--resume {end.run_dir}" in end.message
    status = json.loads((tmp_path / "custom" / "full" / "status.json").read_text())
    assert status["status"] == "failed" and "disk is full" in status["message"]
    assert [r["epoch"] for r in read_metrics(end.run_dir)] == [1, 2]  # logged before the save failed
    monkeypatch.setattr(records.RunRecord, "save_checkpoint", save)
    resumed = train(cfg(), logdir=str(tmp_path), run="full", dataset=SMALL, resume_dir=end.run_dir)
    assert resumed.status == "finished"
    assert curves(end.run_dir) == curves(reference)
    assert all(steps == [1, 2, 3] for steps in tb_steps(end.run_dir).values())


def test_disk_full_everywhere_leaves_an_interrupted_resumable_run(tmp_path, monkeypatch, reference):
    """When nothing can be written any more, status.json cannot say so either: the run reads as
    interrupted, keeps its finished epoch, and resumes once there is space."""
    fsync = os.fsync
    budget = [3]  # config.json, epoch 1's metrics line, epoch 1's checkpoint

    def full_disk(fd):
        if budget[0] == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget[0] -= 1
        fsync(fd)

    monkeypatch.setattr(records.os, "fsync", full_disk)
    end = train(cfg(), logdir=str(tmp_path), run="full", dataset=SMALL)
    assert end.cause == "disk"
    assert end.status == "failed" and end.epochs_done == 1 and "the disk is full" in end.message
    info = read_run(end.run_dir)
    assert info.status == "interrupted" and "--resume" in info.message
    monkeypatch.setattr(records.os, "fsync", fsync)
    assert [i.path for i in resumable_runs(tmp_path)] == [info.path]
    assert train(cfg(), dataset=SMALL, resume_dir=end.run_dir).status == "finished"
    assert curves(end.run_dir) == curves(reference)
    assert all(steps == [1, 2, 3] for steps in tb_steps(end.run_dir).values())


def test_a_torn_last_metrics_line_is_dropped_on_resume(tmp_path, reference):
    stop = threading.Event()
    part = train(cfg(), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                 logdir=str(tmp_path), run="torn", dataset=SMALL)
    metrics = tmp_path / "custom" / "torn" / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"epoch": 2, "train_loss": 0.5')  # killed mid-write
    assert [r["epoch"] for r in read_metrics(part.run_dir)] == [1]
    assert train(cfg(), dataset=SMALL, resume_dir=part.run_dir).status == "finished"
    lines = metrics.read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert curves(part.run_dir) == curves(reference)


def test_a_second_signal_abandons_the_epoch_at_once():
    queue = JobQueue()
    queue.put([Job(name="a", config=cfg()), Job(name="b", config=cfg())])
    queue.take()  # "a" trains here
    stop = queue.stop
    with stop_on_signals(queue) as caught:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and queue.pending() == []  # "a" stops within a batch, "b" never starts
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):  # the handler runs at the next bytecode boundary
                pass
    assert caught == [signal.SIGTERM, signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_an_abandoned_epoch_keeps_the_finished_ones(tmp_path):
    def second_ctrl_c(event):
        if isinstance(event, BatchProgress) and event.epoch == 2:
            raise KeyboardInterrupt

    end = train(cfg(), second_ctrl_c, logdir=str(tmp_path), run="abandon", dataset=SMALL)
    assert end.status == "stopped" and end.epochs_done == 1
    assert [r["epoch"] for r in read_metrics(end.run_dir)] == [1]
    assert torch.load(os.path.join(end.run_dir, "checkpoint.pt"), weights_only=False)["epoch"] == 1
    assert read_run(end.run_dir).status == "stopped"


def test_resuming_a_finished_run_does_nothing_and_extending_it_trains_on(tmp_path, reference):
    one = train(cfg(epochs=2), logdir=str(tmp_path), run="short", dataset=SMALL)
    before = {p.name: p.read_bytes() for p in (tmp_path / "custom" / "short").iterdir()}
    again = train(cfg(epochs=2), dataset=SMALL, resume_dir=one.run_dir)
    assert again.status == "finished" and "already finished all 2 epochs" in again.message
    assert {p.name: p.read_bytes() for p in (tmp_path / "custom" / "short").iterdir()} == before
    os.unlink(os.path.join(one.run_dir, "status.json"))  # killed after its last checkpoint
    assert train(cfg(epochs=2), dataset=SMALL, resume_dir=one.run_dir).status == "finished"
    assert read_run(one.run_dir).status == "finished"
    config, _, _ = resume_config(one.run_dir, {"epochs": "3"})
    longer = train(config, dataset=SMALL, resume_dir=one.run_dir)
    assert longer.status == "finished" and longer.epochs_done == 3
    assert curves(one.run_dir) == curves(reference)  # 2 + 1 epochs == 3 epochs straight
    assert read_run(one.run_dir).config["epochs"] == 3


def test_a_run_stopped_before_its_first_epoch_resumes_from_the_start(tmp_path, reference, monkeypatch):
    monkeypatch.setattr(trainer, "PROGRESS_EVERY_S", 0)  # a progress event after every batch, however fast
    stop = threading.Event()
    part = train(cfg(), lambda e: isinstance(e, BatchProgress) and stop.set(), stop,
                 logdir=str(tmp_path), run="early", dataset=SMALL)
    assert part.status == "stopped" and part.epochs_done == 0
    assert not os.path.exists(os.path.join(part.run_dir, "checkpoint.pt"))
    assert train(cfg(), dataset=SMALL, resume_dir=part.run_dir).status == "finished"
    assert curves(part.run_dir) == curves(reference)


def test_resume_refuses_other_changes_and_a_diverged_run(tmp_path):
    stop = threading.Event()
    part = train(cfg(), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                 logdir=str(tmp_path), run="p", dataset=SMALL)
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="lr: cannot change when resuming"):
        resume_config(part.run_dir, {"lr": "0.1"})
    assert resume_config(part.run_dir, {"lr": "0.001", "device": "cpu"})[0].lr == 0.001  # unchanged: fine
    ended = train(cfg(lr=0.1), dataset=SMALL, resume_dir=part.run_dir)  # the trainer checks too
    assert ended.status == "failed" and "lr cannot change" in ended.message
    assert read_run(part.run_dir).status == "stopped"  # untouched
    nan = train(cfg(optimizer="sgd", lr=1e6), logdir=str(tmp_path), run="nan", dataset=SMALL)
    with pytest.raises(records.RecordError, match="would diverge again"):
        resume_config(nan.run_dir)


def test_resumable_runs_lists_stopped_and_killed_runs_only(tmp_path):
    stop = threading.Event()
    train(cfg(epochs=2), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                    logdir=str(tmp_path), run="stopped", dataset=SMALL)
    killed = train(cfg(epochs=1), logdir=str(tmp_path), run="killed", dataset=SMALL)
    os.unlink(os.path.join(killed.run_dir, "status.json"))  # as if SIGKILLed before the end
    train(cfg(epochs=1), logdir=str(tmp_path), run="done", dataset=SMALL)
    train(cfg(epochs=1, optimizer="sgd", lr=1e6), logdir=str(tmp_path), run="nan", dataset=SMALL)
    busy = train(cfg(epochs=1), logdir=str(tmp_path), run="busy", dataset=SMALL)
    os.unlink(os.path.join(busy.run_dir, "status.json"))
    import fcntl

    with open(os.path.join(busy.run_dir, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is writing it
        assert sorted(i.name for i in resumable_runs(tmp_path)) == ["killed", "stopped"]
        assert read_run(busy.run_dir).status == "running"


def test_a_corrupt_checkpoint_fails_the_resume_and_changes_nothing(tmp_path):
    stop = threading.Event()
    part = train(cfg(), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                 logdir=str(tmp_path), run="bad", dataset=SMALL)
    folder = tmp_path / "custom" / "bad"
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    end = train(cfg(), dataset=SMALL, resume_dir=part.run_dir)
    assert end.status == "failed" and "checkpoint.pt cannot be read" in end.message
    assert "\n" not in end.message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_two_runs_with_one_name_at_once_get_their_own_folders(tmp_path):
    ends = []
    threads = [threading.Thread(target=lambda: ends.append(
        train(cfg(epochs=1), logdir=str(tmp_path), run="same", dataset=SMALL))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(os.path.basename(e.run_dir) for e in ends) == ["same", "same-2"]
    for e in ends:
        assert e.status == "finished" and [r["epoch"] for r in read_metrics(e.run_dir)] == [1]


def test_an_unexpected_error_points_at_error_log_and_keeps_finished_epochs(tmp_path, monkeypatch):
    log_epoch = records.RunRecord.log_epoch

    def buggy(self, row):
        if row["epoch"] == 2:
            raise ZeroDivisionError("a bug")
        log_epoch(self, row)

    monkeypatch.setattr(records.RunRecord, "log_epoch", buggy)
    end = train(cfg(), logdir=str(tmp_path), run="bug", dataset=SMALL)
    assert end.status == "failed" and end.epochs_done == 1
    assert "ZeroDivisionError: a bug" in end.message and f"{end.run_dir}/error.log" in end.message
    assert "Traceback" in (tmp_path / "custom" / "bug" / "error.log").read_text()
    info = read_run(end.run_dir)
    assert info.status == "failed" and [m["epoch"] for m in info.metrics] == [1]


def test_a_stop_while_the_data_loads_leaves_no_run_folder(tmp_path):
    stop = threading.Event()
    stop.set()
    end = train(cfg(), stop=stop, logdir=str(tmp_path), run="never", dataset=SMALL)
    assert end.status == "stopped" and end.message == "stopped before the run began; nothing was recorded."
    assert list(tmp_path.iterdir()) == []


def test_a_torn_tensorboard_record_does_not_hide_the_resumed_epochs(tmp_path, reference):
    stop = threading.Event()
    part = train(cfg(), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                 logdir=str(tmp_path), run="torn-tb", dataset=SMALL)
    (events,) = (tmp_path / "custom" / "torn-tb").glob("events.out.tfevents.*")
    blob = events.read_bytes()
    with open(events, "ab") as f:
        f.write(blob[-30:-5])  # killed halfway through writing one more record
    assert train(cfg(), dataset=SMALL, resume_dir=part.run_dir).status == "finished"
    assert all(steps == [1, 2, 3] for steps in tb_steps(part.run_dir).values())


def test_torch_save_on_a_full_disk_reads_as_the_disk_full_case(tmp_path, monkeypatch):
    """torch.save raises RuntimeError (inline_container.cc), not OSError, when its write fails."""
    def save_checkpoint(self, state):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 83200 vs 83152")

    monkeypatch.setattr(records.RunRecord, "save_checkpoint", save_checkpoint)
    end = train(cfg(epochs=1), logdir=str(tmp_path), run="full", dataset=SMALL)
    assert end.status == "failed" and end.cause == "disk"
    assert end.message == ("could not write the run's record (the disk is full); free some space, "
                           f"then resume with cifar-tui run --resume {end.run_dir}.")
    assert not os.path.exists(os.path.join(end.run_dir, "error.log"))


@pytest.fixture
def small_disk(tmp_path):
    """A 300 KiB tmpfs: room for a run's first records but not its checkpoint (needs root)."""
    import shutil
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("no tmpfs to fill here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_really_full_disk_during_the_checkpoint_is_the_disk_full_case(small_disk):
    end = train(cfg(epochs=2), logdir=str(small_disk), run="full", dataset=SMALL)
    assert end.status == "failed" and end.cause == "disk" and "the disk is full" in end.message
    assert "free some space, then resume" in end.message
    assert not os.path.exists(os.path.join(end.run_dir, "error.log"))


def test_a_data_folder_it_cannot_write_is_named_with_data_dir(tmp_path, monkeypatch):
    """Permissions do not stop root, so the refusal of the folder is injected where it happens."""
    import tempfile

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kw):
        if dir is not None and str(dir).startswith(str(data_dir)):
            raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, ".download-x"))
        return mkstemp(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    config = make_config({"data_dir": str(data_dir), "epochs": 1, "device": "cpu"})
    end = train(config, logdir=str(tmp_path / "logs"), data_url="http://127.0.0.1:9/none.tar.gz")
    assert end.status == "failed" and end.cause == "data"
    assert end.message == (f"cannot use the data folder {data_dir} (Permission denied); make the folder "
                           "writable, or choose another folder with --data-dir.")
    assert not (tmp_path / "logs").exists()


def test_every_run_reads_back_each_epoch_once_under_both_tensorboard_loaders(tmp_path, monkeypatch, reference):
    """Killed between epoch 2's TensorBoard event and its checkpoint, then resumed: the Python
    loader used to show epoch 2 twice (a fresh run wrote no SessionLog START)."""
    from tbread import fast, slow

    fresh = train(cfg(epochs=1), logdir=str(tmp_path), run="fresh", dataset=SMALL)
    save = records.RunRecord.save_checkpoint

    def killed_before_the_checkpoint(self, state):
        if state["epoch"] == 2:
            raise KeyboardInterrupt  # the process dies here; records as a kill leaves them
        save(self, state)

    monkeypatch.setattr(records.RunRecord, "save_checkpoint", killed_before_the_checkpoint)
    part = train(cfg(), logdir=str(tmp_path), run="killed", dataset=SMALL)
    assert [r["epoch"] for r in read_metrics(part.run_dir)] == [1, 2]
    monkeypatch.setattr(records.RunRecord, "save_checkpoint", save)
    assert train(cfg(), dataset=SMALL, resume_dir=part.run_dir).status == "finished"
    assert curves(part.run_dir) == curves(reference)
    for run_dir in (fresh.run_dir, part.run_dir):
        rows = read_metrics(run_dir)
        for loader in (slow, fast):
            scalars = loader(run_dir)
            assert set(scalars) == {records.TAGS[m] for m in records.METRICS}, loader.__name__
            for key in records.METRICS:
                assert scalars[records.TAGS[key]] == [(r["epoch"], pytest.approx(r[key], rel=1e-6)) for r in rows], \
                    (loader.__name__, run_dir, key)
