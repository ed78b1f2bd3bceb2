"""The training thread never waits for the UI: events are posted, not handed over synchronously."""
import time

import tui.app
from apphelp import FAST, fill, make_app, ready, sync, tiny_synthetic, wait_for
from tui.app import CifarApp


@sync
async def test_trainer_finishes_while_a_slow_ui_still_has_a_backlog(tmp_path, monkeypatch):
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    emitted, handled, backlog_at_end = [], [], []
    real_train, real_handler = tui.app.train, CifarApp.on_trainer_event

    def counting_train(config, on_event, stop=None, **kw):
        end = real_train(config, lambda e: (emitted.append(e), on_event(e)), stop, **kw)
        backlog_at_end.append(len(emitted) - len(handled))
        return end

    def slow_handler(self, message):  # a UI that takes 0.3 s per event (sleep frees the GIL)
        time.sleep(0.3)
        handled.append(message)
        real_handler(self, message)

    monkeypatch.setattr(tui.app, "train", counting_train)
    monkeypatch.setattr(CifarApp, "on_trainer_event", slow_handler)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="2", **FAST)
        await pilot.press("s")
        await wait_for(pilot, lambda: backlog_at_end, timeout=120)
        # the run ended while the UI was still far behind: posting never blocked the trainer
        assert backlog_at_end[0] >= 3, (backlog_at_end, len(emitted))
        await wait_for(pilot, lambda: len(handled) == len(emitted) and not app.running, timeout=120)
        assert [type(m.event) for m in handled] == [type(e) for e in emitted]  # nothing lost, in order
