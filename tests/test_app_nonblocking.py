"""The training thread never waits for the UI: events are posted, not handed over synchronously."""
import time

from apphelp import FAST, fill, make_app, ready, sync, tiny_synthetic, wait_for
from tui.app import CifarApp


@sync
async def test_trainer_finishes_while_a_slow_ui_still_has_a_backlog(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    emitted, handled, backlog_at_end = [], [], []
    from core.lifecycle import train as real_train

    real_handler = CifarApp.on_trainer_event

    def counting_train(config, on_event, stop=None, **kw):
        end = real_train(config, lambda e: (emitted.append(e), on_event(e)), stop, **kw)
        backlog_at_end.append(len(emitted) - len(handled))
        return end

    def slow_handler(self, message):  # a UI that takes 0.3 s per event (sleep frees the GIL)
        time.sleep(0.3)
        handled.append(message)
        real_handler(self, message)

    monkeypatch.setattr(CifarApp, "on_trainer_event", slow_handler)
    app = make_app(tmp_path, train=counting_train)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="2", **FAST)
        await pilot.press("s")
        await wait_for(pilot, lambda: backlog_at_end)
        # the run ended while the UI was still far behind: posting never blocked the trainer
        assert backlog_at_end[0] >= 3, (backlog_at_end, len(emitted))
        await wait_for(pilot, lambda: len(handled) == len(emitted) and not app.running)
        assert [type(m.event) for m in handled] == [type(e) for e in emitted]  # nothing lost, in order


@sync
async def test_s_while_a_run_trains_queues_runs_that_then_train(tmp_path, monkeypatch):
    from pathlib import Path

    from apphelp import log_text, start_long_run

    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot, app)  # training until stopped
        await fill(pilot, app, epochs="1")
        await pilot.press("s", "s")  # the same settings twice: two queued runs of one name
        await wait_for(pilot, lambda: len(app.views) == 3)
        long, first, second = app.views
        assert (first.status, second.status) == ("queued", "queued") and first.name == second.name
        assert second.label == first.label + "-2"  # told apart before either starts
        assert str(app.table.get_row(second.key)[1]) == "queued"
        assert f"Queued {first.label} (1 run ahead)." in log_text(app)
        await pilot.press("x")  # stops the long run only: the queue carries on
        await wait_for(pilot, lambda: not app.running)
        assert [v.status for v in app.views] == ["stopped", "finished", "finished"], log_text(app)
        assert [Path(v.run_dir).name for v in (first, second)] == [first.label, second.label]  # as foreseen
        assert len(first.metrics) == len(second.metrics) == 1


@sync
async def test_x_twice_clears_the_queue(tmp_path, monkeypatch):
    from apphelp import log_text, start_long_run

    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot, app)
        await pilot.press("a")  # quick-demo's two runs, 50 epochs each, behind the running one
        await wait_for(pilot, lambda: len(app.views) == 3)
        assert [v.status for v in app.views] == ["running", "queued", "queued"]
        await pilot.press("x", "x")
        await wait_for(pilot, lambda: not app.running)
        # the running run stopped; the queue went (the second x may have caught its first run starting)
        assert app.queue.pending() == [] and "cleared the queue" in log_text(app).lower()
        statuses = [v.status for v in app.views]
        assert statuses[0] == "stopped" and "finished" not in statuses and "queued" not in statuses
        assert 1 <= len(app.views) <= 2, statuses
