"""Snapshots of the main screen (pytest-textual-snapshot): idle, and after a finished quick run.

Deterministic on any machine and torch version: the finished run is a scripted
trainer that sends fixed metrics through the real event path (float results of
real training differ between CPUs and torch builds), and run times are a constant. Update with `pytest tests/test_snapshots.py --snapshot-update`
and look at the .svg files before committing them.
"""
import pytest

from apphelp import fill, make_app, ready, wait_for
from core.events import EpochDone, RunEnded, RunStarted

SIZES = [(80, 24), (120, 40)]


def scripted_train(config, on_event, stop=None, *, experiment="custom", run="run", **_):
    """Stands in for core.trainer.train: the same events, with metrics that depend only on the run."""
    shift = 0.0 if "augment" not in run else 0.15
    on_event(RunStarted(run, experiment, f"runs/{experiment}/{run}", config.epochs, 3, "cpu"))
    for epoch in range(1, config.epochs + 1):
        row = {"epoch": epoch, "train_loss": 2.3 - 0.5 * epoch + shift, "test_loss": 2.2 - 0.4 * epoch + shift + (0.5 if epoch == 3 and not shift else 0),  # overfits
               "train_acc": 0.1 + 0.2 * epoch - shift, "test_acc": 0.12 + 0.17 * epoch - shift, "seconds": 1.0}
        on_event(EpochDone(run, epoch, config.epochs, row))
    ended = RunEnded(run, "finished", f"finished {config.epochs} epochs.", config.epochs, f"runs/{experiment}/{run}")
    on_event(ended)
    return ended


@pytest.fixture(autouse=True)
def deterministic(monkeypatch):
    monkeypatch.setattr("tui.app.train", scripted_train)
    monkeypatch.setattr("tui.widgets.runs_table.format_duration", lambda seconds: "0:01")


@pytest.mark.parametrize("size", SIZES)
def test_idle(snap_compare, tmp_path, size):
    app = make_app(tmp_path)

    async def settle(pilot):
        await wait_for(pilot, lambda: ready(app))
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_after_a_finished_quick_run(snap_compare, tmp_path, size):
    app = make_app(tmp_path)

    async def finished_run(pilot):
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="3")
        await pilot.press("a")
        await wait_for(pilot, lambda: len(app.views) == 2 and not app.running)
        await pilot.pause(0.6)  # the charts' refresh tick

    assert snap_compare(app, terminal_size=size, run_before=finished_run)
