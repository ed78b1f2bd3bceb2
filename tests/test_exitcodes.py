"""One exit-code table for `cifar-tui run` whichever way its runs are placed: the table itself,
then the same cases in this process and in worker processes (Ray's: tests/test_ray.py)."""
import pytest

from core.events import RunEnded
from core.placement import Placement
from exitcases import EXPERIMENT, check_exit_codes
from tui.exitcodes import exit_code
from tui.headless import run_queue


def ended(status, cause=""):
    return RunEnded("r", status, cause=cause)


@pytest.mark.parametrize("ends, signals, code", [
    ([ended("finished"), ended("finished")], [], 0),
    ([], [], 0),
    ([ended("finished"), ended("diverged")], [], 1),
    ([ended("failed", "data"), ended("finished")], [], 1),
    ([ended("failed", "refused"), ended("failed", "oom")], [], 2),   # bad usage outranks a failed run
    ([ended("stopped"), ended("failed", "refused")], [15, 2], 143),  # the first signal outranks all
    ([ended("stopped")], [1], 129),
])
def test_the_table(ends, signals, code):
    assert exit_code(ends, signals) == code


def test_runs_one_after_another(tmp_path, one_thread):
    check_exit_codes(lambda jobs, logdir, **kw: run_queue(jobs, logdir=str(logdir), experiment=EXPERIMENT, **kw),
                     tmp_path)


def test_runs_in_worker_processes(tmp_path, one_thread):
    processes = Placement(kind="processes", parallel=1, devices=("cpu",))
    check_exit_codes(lambda jobs, logdir, **kw: run_queue(jobs, logdir=str(logdir), experiment=EXPERIMENT,
                                                          placement=processes, **kw), tmp_path)
