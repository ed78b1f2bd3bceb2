"""Stop requests (core.stoprequest): a request file stops one run, wherever it trains; its writer
goes on with its queue; a request left behind never stops a later resume."""
import threading

from core.config import make_config
from core.events import EpochDone, RunStarted
from core.executor import ThreadExecutor
from core.job import Job
from core.processes import ProcessExecutor
from core.records import read_metrics, read_run
from core.resume import resume_problem
from core.stoprequest import REQUEST, StopFlag, clear, request, requested


def tiny(**kw):
    return make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 100, "device": "cpu",
                        "train_fraction": 0.05, **kw})


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_flag_looks_for_the_file_at_most_every_interval(tmp_path, monkeypatch):
    looks = []
    monkeypatch.setattr("core.stoprequest.requested", lambda folder: looks.append(folder) or (tmp_path / REQUEST).exists())
    clock = Clock()
    flag = StopFlag(tmp_path, every_s=0.5, clock=clock)
    assert not flag.is_set() and len(looks) == 1
    request(tmp_path)
    for _ in range(100):  # a trainer asks every batch: no look until the interval has passed
        assert not flag.is_set()
    assert len(looks) == 1
    clock.now += 0.5
    assert flag.is_set() and len(looks) == 2
    assert flag.is_set() and len(looks) == 2  # once set, set: no more looks


def test_the_flag_follows_its_writers_flag_and_its_own_set(tmp_path):
    parent = threading.Event()
    flag = StopFlag(tmp_path, parent)
    assert not flag.is_set()
    parent.set()
    assert flag.is_set() and not requested(tmp_path)
    other = StopFlag(tmp_path, threading.Event())
    other.set()
    assert other.is_set() and not other.parent.is_set()  # a run's stop is not its queue's


def test_a_request_replaces_a_planted_link_and_only_a_plain_file_asks(tmp_path):
    target = tmp_path / "someone-elses-file"
    target.write_text("theirs")
    run = tmp_path / "run"
    run.mkdir()
    (run / REQUEST).symlink_to(target)
    assert not requested(run)  # a link asks nothing
    request(run)
    assert target.read_text() == "theirs" and not (run / REQUEST).is_symlink() and requested(run)
    assert [p.name for p in run.iterdir()] == [REQUEST]  # no temporary file left
    clear(run)
    assert not requested(run) and target.exists()
    (run / REQUEST).mkdir()
    assert not requested(run)
    clear(run)  # a folder there: left alone, no error


def test_a_request_stops_that_run_only_and_the_queue_goes_on_then_a_stale_one_does_not_stop_a_resume(
        tmp_path, monkeypatch):
    monkeypatch.setattr("core.stoprequest.CHECK_S", 0.0)  # look every batch: the stop lands in the next batch
    stop = threading.Event()  # the writer's flag: never set here
    asked = []

    def on_event(key, event):
        if key == "x" and isinstance(event, RunStarted):
            asked.append(event.run_dir)
        if key == "x" and isinstance(event, EpochDone) and event.epoch == 1:
            request(asked[0])

    jobs = [Job(key="x", name="x", config=tiny(epochs=5), experiment="exp"),
            Job(key="y", name="y", config=tiny(), experiment="exp")]
    ended = ThreadExecutor(str(tmp_path)).run(jobs, on_event, stop)
    x = read_run(ended["x"].run_dir)
    assert ended["x"].status == x.status == "stopped" and ended["x"].epochs_done == len(x.metrics) == 1
    assert resume_problem(x) is None and not requested(x.path)  # resumable; the request answered and gone
    assert ended["y"].status == "finished" and len(read_metrics(ended["y"].run_dir)) == 2  # the queue went on
    assert not stop.is_set()

    request(x.path)  # left behind, as by a writer killed before it could remove it
    resumed = ThreadExecutor(str(tmp_path)).run([Job(key="x", name="x", config=tiny(epochs=5), experiment="exp",
                                               resume_dir=str(x.path))], lambda key, event: None)
    assert resumed["x"].status == "finished" and len(read_metrics(x.path)) == 5
    assert not requested(x.path)


def test_a_request_in_a_parallel_round_stops_one_workers_run_and_not_the_other(tmp_path):
    """Both workers train when the request for x's folder is written; x stops (resumable), a trains
    all its epochs, and the worker slot x left takes the next job (the round goes on)."""
    started, asked = {}, []

    def on_event(key, event):
        if isinstance(event, RunStarted):
            started[key] = event.run_dir
        if key == "a" and isinstance(event, EpochDone) and event.epoch == 1 and "x" in started and not asked:
            asked.append(request(started["x"]))

    jobs = [Job(key="x", name="x", config=tiny(epochs=200), experiment="exp"),
            Job(key="a", name="a", config=tiny(epochs=6), experiment="exp"),
            Job(key="b", name="b", config=tiny(epochs=1), experiment="exp")]
    ended = ProcessExecutor(str(tmp_path), parallel=2, devices=["cpu"], threads=1).run(jobs, on_event)
    assert asked, "x had not started when a finished its first epoch"
    x = read_run(ended["x"].run_dir)
    assert ended["x"].status == x.status == "stopped" and 1 <= len(x.metrics) < 200 and resume_problem(x) is None
    assert not requested(x.path)
    assert ended["a"].status == "finished" and len(read_metrics(ended["a"].run_dir)) == 6
    assert ended["b"].status == "finished"
