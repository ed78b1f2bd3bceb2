"""x and X in the console's own thread: x on a queued row takes that run off the queue; X asks
(y/n) before it stops everything this console trains, and says how many queued runs will not start."""
from apphelp import log_text, make_app, start_long_run, sync, tiny_synthetic, wait_for
from core.records import read_run
from tui.screens.confirm import ConfirmScreen


async def long_run_and_two_queued(pilot, app):
    await start_long_run(pilot, app)  # training until stopped
    await pilot.press("a")  # quick-demo's two runs, queued behind it
    await wait_for(pilot, lambda: len(app.views) == 3)
    return list(app.views)


@sync
async def test_x_on_a_queued_row_takes_that_run_off_the_queue_only(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        long, first, second = await long_run_and_two_queued(pilot, app)
        app.table.focus()
        app.table.move_cursor(row=app.table.get_row_index(first.key))
        await pilot.press("x")
        await wait_for(pilot, lambda: f"Took {first.label} off the queue; it will not start." in log_text(app))
        assert [j.key for j in app.queue.pending()] == [second.key]
        assert list(app.views) == [long, second] and long.status == "running"
        assert app.table.row_count == 2


@sync
async def test_X_asks_then_stops_the_running_run_and_drops_the_queue(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        long, first, second = await long_run_and_two_queued(pilot, app)
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert ("Stop everything this console trains? 1 running run stops at the end of this batch; "
                "2 queued runs will not start.") == app.screen.question
        await pilot.press("n")
        await wait_for(pilot, lambda: "Nothing stopped." in log_text(app))
        assert not isinstance(app.screen, ConfirmScreen)
        assert long.status == "running" and len(app.queue.pending()) == 2 and not app.queue.stop.is_set()
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.running)
        assert ("Stopping the whole study here: 1 running run stops at the end of this batch; "
                "2 queued runs will not start.") in log_text(app)
        assert list(app.views) == [long] and app.queue.pending() == []
        assert long.status == read_run(long.run_dir).status == "stopped"
        await pilot.press("X")  # nothing left: no question
        await wait_for(pilot, lambda: log_text(app).endswith("Nothing is running."))
        assert not isinstance(app.screen, ConfirmScreen)


@sync
async def test_help_lists_X_with_its_question(tmp_path):
    from apphelp import ready
    from tui.screens.help import HelpScreen

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = dict(app.screen.keys)
        assert keys["X"].startswith("after a y/n question: stop the selected followed run's whole process")
        assert "wherever it trains" in keys["x"] and "again: clear the queue too" in keys["x"]


@sync
async def test_x_on_a_followed_run_whose_folder_cannot_be_written_says_so_and_points_to_X(tmp_path, monkeypatch):
    from test_app_keys import held_run
    from tui.screens.dialogs import PastRunsScreen

    def refused(folder):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tui.stopping.request", refused)
    path, lock = held_run(tmp_path / "runs", "theirs", None)
    try:
        app = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")  # follow it
            await wait_for(pilot, lambda: len(app.views) == 1)
            await pilot.press("t", "x")
            await wait_for(pilot, lambda: f"Could not ask for a stop of theirs: {path} cannot be written (Permission "
                                          "denied); X stops its whole process instead." in log_text(app))
            assert next(iter(app.views)).status == "running"
    finally:
        lock.close()
