"""Following a run folder: the trainer's events, in its order, from what another process writes."""
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from core.events import BatchProgress, EpochDone, RunEnded, RunStarted
from core.follow import FollowError, Follower, follow, live_runs
from core.progress import ProgressWriter, read_progress
from core.records import RunRecord, lock_owner, read_run
from core.resume import resume_problem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}

TRAIN_AND_RECORD_EVENTS = """
import pickle, sys
from core.config import make_config
from core.data import synthetic
from core.lifecycle import train
events = []
config = make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 100, "device": "cpu", "train_fraction": 1.0})
train(config, events.append, logdir=sys.argv[1], experiment="exp", run="r", dataset=synthetic(600, 200))
pickle.dump(events, open(sys.argv[2], "wb"))
"""

TAKE_THE_LOCK_AND_DIE = """
import os, signal, sys
from core.records import RunRecord
RunRecord(sys.argv[1], {"experiment": "exp", "run": "dead", "config": {"epochs": 5, "batch_size": 10},
                        "train_images": 100, "device": "cpu"})
os.kill(os.getpid(), signal.SIGKILL)
"""


def wait_until(condition, timeout=600, proc=None):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert proc is None or proc.poll() is None or condition(), "the writer ended early"
        time.sleep(0.02)


def is_subsequence(part, whole) -> bool:
    it = iter(whole)
    return all(any(item == other for other in it) for item in part)


def test_a_run_in_another_process_is_followed_with_the_trainers_events_in_order(tmp_path):
    logdir, dump = tmp_path / "logs", tmp_path / "events.pickle"
    writer = subprocess.Popen([sys.executable, "-c", TRAIN_AND_RECORD_EVENTS, str(logdir), str(dump)],
                              cwd=ROOT, env=ENV)
    run_dir = logdir / "exp" / "r"
    wait_until(lambda: (run_dir / "config.json").exists(), proc=writer)
    seen = []
    ended = follow(run_dir, seen.append, interval=0.01)
    assert writer.wait(timeout=600) == 0
    trained = pickle.loads(dump.read_bytes())
    assert ended == trained[-1] and ended.status == "finished"
    # every event but batch progress, exactly; progress samples a subset, never one of its own
    assert [e for e in seen if not isinstance(e, BatchProgress)] == \
        [e for e in trained if not isinstance(e, BatchProgress)]
    assert is_subsequence(seen, trained)
    assert [type(e) for e in seen[:1]] == [RunStarted] and seen[0].batches == 6  # 600 images, 100 a batch
    assert [e.epoch for e in seen if isinstance(e, EpochDone)] == [1, 2, 3]


@pytest.fixture
def record(tmp_path):
    """A run folder being written by this process, with a progress writer and what it passes on."""
    path = tmp_path / "exp" / "r"
    path.mkdir(parents=True)
    rec = RunRecord(path, {"experiment": "exp", "run": "r", "config": {"epochs": 2, "batch_size": 100},
                           "train_images": 600, "device": "cpu"})
    passed = []
    yield rec, ProgressWriter(path, passed.append), passed
    rec.close()


HERE = {"host": socket.gethostname(), "pid": os.getpid()}  # where a run this process writes trains


def row(epoch):
    return {"epoch": epoch, "train_loss": 2.0 / epoch, "train_acc": 0.1 * epoch, "test_loss": 2.1 / epoch,
            "test_acc": 0.09 * epoch, "seconds": 1.5, "time": 1e9}


def test_each_poll_says_what_changed_in_the_trainers_order(record):
    rec, write, passed = record
    start = RunStarted("r", "exp", str(rec.path), 2, 6, "cpu", **HERE)  # the lock's writer: this process
    write(start)
    follower = Follower(rec.path)
    assert follower.poll() == [start] and passed == [start]  # the writer passes every event on
    assert read_progress(rec.path)["phase"] == "start"
    write(BatchProgress("r", 1, 3, 6, 2.25))
    assert follower.poll() == [BatchProgress("r", 1, 3, 6, 2.25)]
    assert follower.poll() == []  # nothing new: nothing said twice
    write(BatchProgress("r", 1, 6, 6, 2.0))
    write(BatchProgress("r", 1, 6, 6, phase="eval"))
    assert follower.poll() == [BatchProgress("r", 1, 6, 6, phase="eval")]  # only the latest sample
    rec.log_epoch(row(1))
    write(BatchProgress("r", 2, 2, 6, 1.5))
    assert follower.poll() == [EpochDone("r", 1, 2, row(1)), BatchProgress("r", 2, 2, 6, 1.5)]
    write(BatchProgress("r", 2, 6, 6, phase="eval"))
    rec.log_epoch(row(2))  # the sample came before the epoch it belongs to: it is said first
    assert follower.poll() == [BatchProgress("r", 2, 6, 6, phase="eval"), EpochDone("r", 2, 2, row(2))]
    rec.finish("finished", "finished 2 epochs.", 2)
    assert follower.poll() == [RunEnded("r", "finished", "finished 2 epochs.", 2, str(rec.path))]
    assert follower.done and follower.poll() == []


def test_a_followed_resumed_run_starts_at_its_first_epoch(record):
    rec, write, _ = record
    write(BatchProgress("r", 1, 6, 6, phase="eval"))  # the first session
    rec.log_epoch(row(1))
    write(RunStarted("r", "exp", str(rec.path), 2, 6, "cpu", first_epoch=2, **HERE))  # the resumed one
    events = Follower(rec.path, first_epoch=2).poll()
    assert events == [RunStarted("r", "exp", str(rec.path), 2, 6, "cpu", first_epoch=2, **HERE)]
    replay = Follower(rec.path).poll()  # an attaching console: the whole history
    assert [type(e) for e in replay] == [RunStarted, EpochDone] and replay[0].first_epoch == 1


def test_a_lock_left_by_a_dead_process_ends_as_interrupted_and_resumable(tmp_path):
    run_dir = tmp_path / "exp" / "dead"
    run_dir.mkdir(parents=True)
    died = subprocess.run([sys.executable, "-c", TAKE_THE_LOCK_AND_DIE, str(run_dir)], cwd=ROOT, env=ENV)
    assert died.returncode == -signal.SIGKILL
    owner = lock_owner(run_dir)
    assert owner["host"] == socket.gethostname() and owner["pid"] != os.getpid()
    assert live_runs(tmp_path) == []
    ticks = iter(range(0, 1000, 5))  # a clock that runs 5 s a call: the follower soon checks the writer
    follower = Follower(run_dir, clock=lambda: next(ticks))
    events = follower.poll() + follower.poll()
    assert [type(e) for e in events] == [RunStarted, RunEnded]
    end = events[-1]
    assert end.status == "interrupted" and f"pid {owner['pid']}" in end.message
    assert f"--resume {run_dir}" in end.message and end.message.count(".") == 1
    info = read_run(run_dir)
    assert info.status == "interrupted" and resume_problem(info) is None


def test_live_runs_name_their_writer(record, tmp_path):
    rec, _, _ = record
    assert live_runs(tmp_path) == [(rec.path, lock_owner(rec.path))]
    assert lock_owner(rec.path)["pid"] == os.getpid()


def test_a_folder_that_is_not_a_run_is_refused_in_one_sentence(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(FollowError) as e:
        Follower(tmp_path / "notes")
    assert str(e.value) == (f"{tmp_path / 'notes'} is not a run folder (no config.json); "
                            "give the folder of a run, e.g. runs/quick-demo/baseline.")


def test_a_folder_deleted_while_followed_ends_cleanly(record):
    rec, write, _ = record
    write(RunStarted("r", "exp", str(rec.path), 2, 6, "cpu"))
    rec.log_epoch(row(1))
    follower = Follower(rec.path)
    assert [type(e) for e in follower.poll()] == [RunStarted, EpochDone]
    shutil.rmtree(rec.path)
    [end] = follower.poll()
    assert (end.status, end.cause, end.epochs_done) == ("failed", "deleted", 1)
    assert end.message == f"{rec.path} was deleted while it was followed; its record is gone."
    assert follower.poll() == []


def test_follow_returns_none_when_stopped(record):
    rec, write, _ = record
    write(RunStarted("r", "exp", str(rec.path), 2, 6, "cpu"))
    stop = threading.Event()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(follow(rec.path, lambda e: None, stop, interval=0.01)))
    thread.start()
    stop.set()
    thread.join(timeout=30)
    assert seen == [None]
