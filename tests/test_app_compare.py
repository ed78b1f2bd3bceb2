"""The console's compare screen, resume, out-of-memory and quit-signal handling (Pilot)."""
import json
import signal
import threading
from pathlib import Path

import pytest
import torch

from apphelp import FAST, fill, log_text, make_app, open_past, ready, start_long_run, sync, wait_for
from core import trainer
from core.config import make_config
from core.events import EpochDone
from core.lifecycle import train
from core.records import read_metrics, read_run, write_json, write_status
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import PastRunsScreen
from tui.screens.help import HelpScreen
from tui.widgets.charts import MetricChart



pytestmark = pytest.mark.usefixtures("small_synthetic")


def craft(logdir, name, test_acc, test_loss, status="finished"):
    """A run folder written by hand: known curves, so the expected order is known."""
    path = Path(logdir) / "study" / name
    path.mkdir(parents=True)
    write_json(path / "config.json", {"experiment": "study", "run": name,
                                      "config": make_config({"dataset": "synthetic"}).to_dict()})
    rows = [{"epoch": e + 1, "train_loss": 1.0, "train_acc": 0.9, "test_loss": loss, "test_acc": acc,
             "seconds": 1.0} for e, (acc, loss) in enumerate(zip(test_acc, test_loss))]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_status(path, status, "", len(rows))
    return path


def names(screen):
    return [r.label for r in screen.rows()]


def table_names(screen):
    table = screen.query_one("#compare-table")
    return [screen.app.views.get(row.key.value).name for row in table.ordered_rows]


@sync
async def test_compare_screen_sorts_both_ways_toggles_overlays_and_marks_the_onset(tmp_path):
    logdir = tmp_path / "runs"
    # test loss bottoms at epoch 2 for "overfit" only; "falling" still falls
    paths = [craft(logdir, "baseline", [0.30, 0.40, 0.45], [1.0, 0.9, 0.8]),
             craft(logdir, "overfit", [0.35, 0.50, 0.48], [0.9, 0.7, 0.95]),
             craft(logdir, "falling", [0.20, 0.25, 0.30], [1.2, 1.1, 1.05], status="stopped")]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, paths)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        # default: test accuracy (the last value), best first
        assert names(screen) == table_names(screen) == ["overfit", "baseline", "falling"]
        assert "▼" in str(screen.query_one("#compare-table").columns["test_acc"].label)
        await pilot.press("3")  # test acc again: worst first
        assert table_names(screen) == ["falling", "baseline", "overfit"]
        assert "▲" in str(screen.query_one("#compare-table").columns["test_acc"].label)
        await pilot.press("0")  # test loss (last): lowest first, then the other way
        assert table_names(screen) == ["baseline", "overfit", "falling"]
        await pilot.press("0")
        assert table_names(screen) == ["falling", "overfit", "baseline"]
        assert "worst first" in str(screen.query_one("#compare-title").render())
        await pilot.click("#compare-table", offset=(2, 0))  # the run header: by name, A to Z
        await pilot.pause()
        assert table_names(screen) == ["baseline", "falling", "overfit"]
        # the cell values are core.compare's: overfit's loss rise = 0.95 - 0.7
        overfit_summary = screen.rows()[2]
        assert overfit_summary.label == "overfit" and overfit_summary.onset.mean == 2
        row = screen.query_one("#compare-table").get_row(screen.view_of(overfit_summary).key)
        assert row[11].plain.splitlines()[0] == "0.250"

        chart = screen.query_one("#compare-chart", MetricChart)
        assert [label for label, *_ in chart.series] == ["baseline (past)", "falling (past)", "overfit (past)"]
        assert chart.markers == [(2, 2)]  # overfit's onset: epoch 2; the others still fall
        await pilot.press("down", "down", "space")  # overfit off the charts
        overfit = next(v for v in app.views if v.name == "overfit")
        assert not overfit.overlay and "○" in screen.query_one("#compare-table").get_row(overfit.key)[0].plain
        assert [label for label, *_ in chart.series] == ["baseline (past)", "falling (past)"] and chart.markers == []
        await pilot.press("escape")
        main_chart = app.get_screen_main().query_one("#chart-test_loss", MetricChart)
        labels = lambda: [label for label, *_ in main_chart.series]  # noqa: E731
        await wait_for(pilot, lambda: labels() == ["baseline (past)", "falling (past)"])  # a redraw
        await pilot.press("c", "v")  # overlay all again
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(labels()) == 3)
        assert labels() == ["baseline (past)", "overfit (past)", "falling (past)"]
        assert main_chart.markers == [(1, 2)]
        main_chart.render()  # the marker draws (plotext accepts it) at 120x40


@sync
async def test_compare_screen_follows_a_run_in_progress(tmp_path):
    logdir = tmp_path / "runs"
    path = craft(logdir, "live", [0.3], [1.0], status="running")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, [path])
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        table = app.screen.query_one("#compare-table")
        key = next(iter(app.views)).key
        assert table.get_row(key)[6].plain == "1"  # ep
        with open(path / "metrics.jsonl", "a") as f:  # the trainer appends an epoch
            f.write(json.dumps({"epoch": 2, "train_loss": 0.9, "train_acc": 0.9, "test_loss": 0.8,
                                "test_acc": 0.4}) + "\n")
        await wait_for(pilot, lambda: table.get_row(key)[6].plain == "2")
        assert table.get_row(key)[2].plain == "0.400"


def stopped_run(tmp_path, epochs_done=1, epochs=3):
    """A run stopped after `epochs_done` of `epochs` epochs, as a user would leave it."""
    stop = threading.Event()
    config = make_config({"dataset": "synthetic", "epochs": epochs, **FAST})
    ended = train(config, lambda e: isinstance(e, EpochDone) and e.epoch == epochs_done and stop.set(),
                  stop, logdir=str(tmp_path / "runs"), experiment="study", run="paused")
    assert ended.status == "stopped" and ended.epochs_done == epochs_done
    return ended.run_dir


@sync
async def test_resume_an_interrupted_run_from_the_console(tmp_path):
    run_dir = stopped_run(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "r")  # no run in the table: choose among the resumable ones
        await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
        assert [str(r.path) for r in app.screen.runs] == [run_dir]
        await pilot.press("o")
        await wait_for(pilot, lambda: len(app.views) == 1 and not app.running and app.views.get("r1").status != "queued")
        (view,) = app.views
        assert view.status == "finished", log_text(app)
        assert [m["epoch"] for m in read_metrics(run_dir)] == [1, 2, 3]  # each epoch once
        assert view.metrics == read_metrics(run_dir)
        assert "resumed at epoch 2" in log_text(app)
        assert read_run(run_dir).status == "finished"
        await pilot.press("r")  # the selected row has finished: refused with the reason
        await pilot.pause()
        assert "already finished its 3 epochs" in log_text(app) and not app.running


@sync
async def test_out_of_memory_keeps_the_app_and_the_queue_going(tmp_path, monkeypatch):
    build, built = trainer.build_model, []

    def build_model(config):  # the queue's first model runs out of memory in its first epoch
        model = build(config)
        built.append(model)
        if len(built) == 1:
            def oom(x):
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            model.forward = oom
        return model

    monkeypatch.setattr(trainer, "build_model", build_model)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="1", **FAST)
        await pilot.press("a")  # quick-demo: two runs
        await wait_for(pilot, lambda: not app.running and len(app.views) == 2)
        first, second = app.views
        assert (first.status, first.cause, second.status) == ("failed", "oom", "finished"), log_text(app)
        assert "ran out of memory at batch_size 128; try a smaller batch_size" in log_text(app)
        assert str(app.table.get_row(first.key)[1]) == "failed (oom)"
        await pilot.press("question_mark")  # still answering keys
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


@pytest.mark.parametrize("signum, on_hangup", [(signal.SIGHUP, "stop"), (signal.SIGTERM, "keep")])
@sync
async def test_quit_signal_stops_the_run_cleanly(tmp_path, signum, on_hangup):
    """The handler the console installs for SIGHUP/SIGTERM, called as the signal would call it
    (the test runner's own signals are left alone); test_app_follow sends real ones under a pty."""
    app = make_app(tmp_path, on_hangup=on_hangup)  # SIGTERM stops whatever a hang-up would do
    async with app.run_test(size=(80, 24)) as pilot:
        await start_long_run(pilot, app)
        app.signals.handle(signum, None)
        app.signals.handle(signum, None)  # a second one changes nothing
        await wait_for(pilot, lambda: app.return_code is not None)
    (view,) = app.views
    assert app.signalled == signum and read_run(view.run_dir).status == "stopped"
    assert 1 <= len(read_metrics(view.run_dir)) < 50
