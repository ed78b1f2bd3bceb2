"""Snapshots of the queue screen (`u`) at 80×24 and 200×60: a run trained in this console, one in
a --parallel worker on cuda:1, one followed in another process (pid 4242 on gpu-box), 18 queued
here and one finished; each running run has its own bar and time left, and the summary line the
study's. Deterministic: fixed metrics and epoch times, a fixed clock. Update with
`pytest tests/test_snapshots_queue.py --snapshot-update` and look at the .svg files first."""
import pytest

from apphelp import log_text, make_app, ready, sync, wait_for
from core.config import RunConfig
from core.job import Job
from core.placement import PROCESSES, Placement
from core.events import BatchProgress, EpochDone, RunStarted
from tui.messages import TrainerEvent
from tui.screens.queue import QueueScreen
from tui.widgets.progress import EpochProgress

NOW = 1000.0


def rows(epochs, seconds=10.0):
    return [{"epoch": e, "train_loss": 2.0 - 0.1 * e, "test_loss": 2.1 - 0.1 * e, "train_acc": 0.2 + 0.05 * e,
             "test_acc": 0.2 + 0.04 * e, "seconds": seconds} for e in range(1, epochs + 1)]


# (name, lr, status, epochs on record, where it trains: RunStarted's fields; None: not started)
RUNS = (("baseline", 0.001, "running", 3, {"device": "cpu"}),
        ("sgd-lr0.01", 0.01, "running", 6, {"device": "cuda:1", "worker": 2, "pid": 311}),
        ("adam-lr0.01", 0.01, "running", 1, {"device": "cuda:0", "host": "gpu-box", "pid": 4242}),
        ("adam-lr1e-05", 1e-5, "queued", 0, None),
        ("sgd-lr1e-05", 1e-5, "queued", 0, None),
        ("dropout", 0.001, "finished", 10, None)) + tuple(  # more seeds queued: 80×24 scrolls, 200×60 shows all
    (f"{name}-s{seed}", lr, "queued", 0, None) for seed in (5, 6, 7, 8) for name, lr in (
        ("baseline", 0.001), ("sgd-lr0.01", 0.01), ("adam-lr0.01", 0.01), ("adam-lr1e-05", 1e-5)))


async def three_running(pilot, app) -> None:
    await wait_for(pilot, lambda: ready(app))
    for name, lr, status, done, where in RUNS:
        config = RunConfig(lr=lr, epochs=10, dataset="synthetic", data_dir="/data").to_dict()
        view = app.views.add(name, "ex3", config=config, status="queued" if where else status, epochs=10,
                             metrics=rows(done), followed="host" in (where or {}))
        if where is not None:
            app.model.timing[view.key] = [NOW - 40.0, 0.0, NOW - 4.0]  # 4 s into its epoch
            view.metrics = []  # its epochs arrive as events, as from a trainer
            app.post_message(TrainerEvent(view.key, RunStarted(name, "ex3", f"/runs/ex3/{name}", 10, 20, **where)))
            for row in rows(done):
                app.post_message(TrainerEvent(view.key, EpochDone(name, row["epoch"], 10, row)))
            app.post_message(TrainerEvent(view.key, BatchProgress(name, done + 1, 8, 20)))
        elif status == "finished":
            view.run_dir = f"/runs/ex3/{name}"
        else:  # waiting in this console's queue (no thread takes it in this test)
            app.queue.put([Job(key=view.key, name=name, experiment="ex3", config=RunConfig(**config))])
    app.model.relabel()
    await wait_for(pilot, lambda: sum(v.status == "running" for v in app.views) == 3
                   and all(v.progress for v in app.views if v.status == "running")
                   and sum(len(v.metrics) for v in app.views) == 20)
    app.model.timing = {v.key: [NOW - 40.0, 0.0, NOW - 4.0] for v in app.views if v.status == "running"}


async def the_queue(pilot, app) -> None:
    await three_running(pilot, app)
    await pilot.press("u")
    await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen) and app.screen.query_one("#queue-table").row_count == 21)
    await pilot.pause()


@pytest.fixture(autouse=True)
def deterministic(monkeypatch):
    monkeypatch.setattr("tui.screens.queue.format_duration", lambda s: f"{s:.0f}s")
    monkeypatch.setattr("tui.widgets.runs_table.format_duration", lambda s: f"{s:.0f}s")
    monkeypatch.setattr("tui.widgets.progress.format_duration", lambda s: f"{s:.0f}s")
    monkeypatch.setattr("tui.queuerows.socket.gethostname", lambda: "laptop")


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_queue_screen(snap_compare, tmp_path, size):
    app = make_app(tmp_path, Placement(kind=PROCESSES, parallel=2, devices=("cpu",)), clock=lambda: NOW)

    async def run_before(pilot):
        await the_queue(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@sync
async def test_with_several_runs_at_once_the_progress_line_gives_the_studys_time_left(tmp_path):
    """The line shows one run's bar; its `all` is the queue screen's study time left, and the log
    says once that u shows every run."""
    app = make_app(tmp_path, Placement(kind=PROCESSES, parallel=2, devices=("cpu",)), clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await three_running(pilot, app)
        app.post_message(TrainerEvent(app.views.get("r1").key, BatchProgress("baseline", 4, 9, 20)))
        await wait_for(pilot, lambda: "ep 4/10" in app._q(EpochProgress).text)
        # 10 s epochs, 4 s into epoch 4: 6 + 60 s; all: 66 + 36 + 18 queued × 100 s over 2 workers
        assert app._q(EpochProgress).text.endswith("ETA 66s · all 951s")
        assert app.many.queue_state()[1].startswith("Study time left ≈ 951s")
        assert log_text(app).count("runs train at once") == 1 and "2 runs train at once; the progress line shows the one that moved last, u shows each" in log_text(app)


@sync
async def test_the_queue_screens_highlighted_run_is_the_tables_selected_one(tmp_path):
    """So x (stop) and r act on the run highlighted in the queue."""
    app = make_app(tmp_path, Placement(kind=PROCESSES, parallel=2, devices=("cpu",)), clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await the_queue(pilot, app)
        queue = app.screen.query_one("#queue-table")
        queue.focus()
        await pilot.press("down", "down")
        key = queue.coordinate_to_cell_key((queue.cursor_row, 0)).row_key.value
        assert app.views.get(key).name == "adam-lr0.01" and app.table.selected_key == key
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, QueueScreen))
        assert app.table.selected_key == key
