"""A followed run's history, whole: every epoch's EpochDone once, in order, with the recorded
values, however many epochs landed between two polls (a finished run replayed, a run written
faster than it is read, and the console attaching to a run with epochs already on disk)."""
import os

from apphelp import craft_run, make_app, sync, wait_for
from core.events import EpochDone, RunEnded, RunStarted
from core.follow import Follower
from core.records import RunRecord, _name_writer, read_metrics, take_lock
from tui.screens.dialogs import PastRunsScreen

LOSSES = [2.3, 1.9, 1.6, 1.45, 1.4]  # five epochs, each row different


def epochs_of(events) -> list:
    return [e for e in events if isinstance(e, EpochDone)]


def test_a_finished_run_replays_every_epoch_once_in_order_with_its_values(tmp_path):
    path = craft_run(tmp_path, "exp", "done", LOSSES)
    rows = read_metrics(path)
    follower = Follower(path)
    events = follower.poll()
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert events[1:-1] == [EpochDone("done", e, 5, row) for e, row in enumerate(rows, start=1)]
    assert [e.metrics["train_loss"] for e in epochs_of(events)] == LOSSES
    assert events[-1].status == "finished" and events[-1].epochs_done == 5
    assert follower.done and follower.poll() == []


def row(epoch: int) -> dict:
    return {"epoch": epoch, "train_loss": 2.0 / epoch, "train_acc": 0.1 * epoch, "test_loss": 2.1 / epoch,
            "test_acc": 0.09 * epoch, "seconds": 1.0 + epoch, "time": 1e9 + epoch}


def test_several_epochs_landing_between_polls_each_come_once_in_order(tmp_path):
    path = tmp_path / "exp" / "r"
    path.mkdir(parents=True)
    record = RunRecord(path, {"experiment": "exp", "run": "r", "config": {"epochs": 7, "batch_size": 100},
                              "train_images": 600, "device": "cpu"})
    try:
        follower = Follower(path)
        seen = follower.poll()
        for landed in ([1, 2, 3], [], [4], [5, 6]):  # three at once, none, one, two
            for epoch in landed:
                record.log_epoch(row(epoch))
            new = follower.poll()
            assert [e.epoch for e in epochs_of(new)] == landed
            seen += new
        record.log_epoch(row(7))
        record.finish("finished", "finished 7 epochs.", 7)
        seen += follower.poll()  # the last epoch and the end in one poll
    finally:
        record.close()
    assert [type(e) for e in seen] == [RunStarted] + [EpochDone] * 7 + [RunEnded]
    assert [e.metrics for e in epochs_of(seen)] == [row(e) for e in range(1, 8)] == read_metrics(path)


@sync
async def test_the_console_attaching_to_a_run_draws_the_epochs_already_on_disk(tmp_path):
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "busy", LOSSES)
    os.unlink(path / "status.json")  # still being written: 5 of its epochs on disk
    lock = take_lock(path)
    _name_writer(lock)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")
            await wait_for(pilot, lambda: len(app.views) == 1 and len(next(iter(app.views)).metrics) >= 5)
            (view,) = app.views
            assert view.metrics == read_metrics(path) and [m["epoch"] for m in view.metrics] == [1, 2, 3, 4, 5]
            assert app.table.get_row(view.key)[2] == "5/5" and view.status == "running"
    finally:
        lock.close()
