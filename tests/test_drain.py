"""core.drain, core.placement and core.placed without training: scripted trainers and executors."""
import pytest

from core.config import ConfigError, make_config
from core.drain import drain
from core.events import EpochDone, RunEnded, RunStarted
from core.executor import Executor, ThreadExecutor
from core.job import Job
from core.jobqueue import JobQueue
from core.placed import Placed
from core.placement import HERE, PROCESSES, Placement, make_executor, parse

SYNTHETIC = make_config({"dataset": "synthetic", "epochs": 2, "device": "cpu"})
CIFAR = make_config({"dataset": "cifar10", "epochs": 2, "device": "cpu"})


def job(key, config=SYNTHETIC):
    return Job(key=key, name=key, config=config, experiment="exp")


class Scripted:
    """A trainer that ends each run at once (stopped if its flag is set by the first epoch's
    listener), and notes the stop flag and shared data set each run was given."""
    def __init__(self, fails=()):
        self.fails, self.flags, self.data = set(fails), {}, {}

    def __call__(self, config, on_event, stop, *, run, data=None, **_):
        self.flags[run], self.data[run] = stop, data
        if run in self.fails:
            return self._end(on_event, RunEnded(run, "failed", "CIFAR-10 is missing.", cause="data"))
        on_event(RunStarted(run, "exp", f"/runs/exp/{run}", 2, 1, "cpu"))
        on_event(EpochDone(run, 1, 2, {"epoch": 1}))
        return self._end(on_event, RunEnded(run, "stopped" if stop.is_set() else "finished", "", 1))

    @staticmethod
    def _end(on_event, ended):
        on_event(ended)
        return ended


def test_here_each_run_has_its_own_stop_flag_and_the_queue_goes_on():
    trainer, queue = Scripted(), JobQueue()
    queue.put([job("a"), job("b")])

    def on_event(key, event):
        if key == "a" and isinstance(event, EpochDone):
            queue.stop.set()  # x on a: only a stops

    drained = drain(queue, ThreadExecutor("runs", train=trainer), on_event)
    assert {k: e.status for k, e in drained.ended.items()} == {"a": "stopped", "b": "finished"}
    assert trainer.flags["a"] is not trainer.flags["b"] and not trainer.flags["b"].is_set()
    assert trainer.data["a"] is trainer.data["b"] is not None  # one data set for the drain's runs


def test_halting_the_queue_ends_the_drain():
    trainer, queue = Scripted(), JobQueue()
    queue.put([job("a"), job("b")])
    drained = drain(queue, ThreadExecutor("runs", train=trainer),
                    lambda key, event: isinstance(event, EpochDone) and queue.halt())
    assert list(drained.ended) == ["a"] and drained.ended["a"].status == "stopped" and queue.pending() == []


def test_cifar10_missing_clears_the_rest_of_the_queue():
    queue = JobQueue()
    queue.put([job("a", CIFAR), job("b"), job("c", CIFAR)])
    drained = drain(queue, ThreadExecutor("runs", train=Scripted(fails={"a"})), lambda key, event: None)
    assert list(drained.ended) == ["a"] and [j.key for j in drained.dropped] == ["b", "c"]
    assert queue.put([job("d")]) is True  # the drain has ended: the next put starts another


class Rounds(Executor):
    """A placement elsewhere that notes each round it is given; a job put during the first
    round goes in the next."""
    def __init__(self, queue):
        super().__init__("runs")
        self.queue, self.rounds, self.flags = queue, [], []

    def run(self, jobs, on_event, stop=None, hurry=None):
        self.rounds.append([j.key for j in jobs])
        self.flags.append((stop, hurry))
        if len(self.rounds) == 1:
            self.queue.put([job("late")])
        return {j.key: RunEnded(j.name, "finished") for j in jobs}


def test_placed_executors_get_the_queue_in_rounds_with_one_stop_flag_each():
    queue = JobQueue()
    queue.put([job("a"), job("b")])
    executor = Rounds(queue)
    drained = drain(queue, executor, lambda key, event: None)
    assert executor.rounds == [["a", "b"], ["late"]] and list(drained.ended) == ["a", "b", "late"]
    assert executor.flags[0][0] is not executor.flags[1][0]


def test_an_error_in_the_executor_drops_the_queue_for_the_next_put():
    queue = JobQueue()
    queue.put([job("a"), job("b")])

    def boom(*_args, **_kw):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        drain(queue, ThreadExecutor("runs", train=boom), lambda key, event: None)
    assert queue.pending() == [] and queue.put([job("c")]) is True


def test_a_placed_run_passes_on_one_end_and_nothing_after():
    seen = []
    placed = Placed(job("a"))
    placed.emit([EpochDone("a", 1, 2, {}), RunEnded("a", "failed", "one"), RunEnded("a", "failed", "two"),
                 EpochDone("a", 2, 2, {})], lambda key, event: seen.append((key, event)))
    assert [type(e).__name__ for _, e in seen] == ["EpochDone", "RunEnded"] and seen[1][1].message == "one"
    assert placed.ended.message == "one"


@pytest.mark.parametrize("options, expected", [
    ({}, Placement()),
    ({"parallel": "2"}, Placement(kind=PROCESSES, parallel=2)),
    ({"devices": "cpu"}, Placement(kind=PROCESSES, parallel=1, devices=("cpu",))),
    ({"parallel": "3", "devices": "cpu"}, Placement(kind=PROCESSES, parallel=3, devices=("cpu",))),
])
def test_one_parse_for_run_and_the_console(options, expected):
    assert parse(**options) == expected


@pytest.mark.parametrize("options, words", [
    ({"parallel": "0"}, "--parallel: 0 is too few"),
    ({"devices": "cpu,cpu"}, "--devices names cpu twice"),
])
def test_a_bad_placement_is_one_sentence(options, words):
    with pytest.raises(ConfigError, match=words):
        parse(**options)


def test_make_executor_builds_what_the_placement_says():
    here = make_executor(Placement(kind=HERE), "runs")
    assert isinstance(here, ThreadExecutor) and here.here
    with make_executor(parse(parallel="2", devices="cpu"), "runs") as placed:
        assert not placed.here and (placed.parallel, placed.devices) == (2, ["cpu"])


def test_run_says_which_runs_it_did_not_start_for_want_of_cifar10(tmp_path):
    from io import StringIO

    from rich.console import Console

    from tui.headless import run_queue

    nodata = CIFAR.replace(data_dir=str(tmp_path / "nodata"))
    out = StringIO()
    code = run_queue([("first", nodata), ("second", nodata)], logdir=str(tmp_path / "runs"), experiment="exp",
                     data_url=(tmp_path / "missing.tar.gz").as_uri(), console=Console(file=out, width=200))
    assert code == 1 and "first: failed" in out.getvalue()
    assert "Not run, for want of CIFAR-10: second." in out.getvalue() and "second: failed" not in out.getvalue()
