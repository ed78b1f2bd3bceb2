"""The console's quit signals without Textual: an app stand-in records what the handler asks
of it (the whole console under a pty: test_app_follow's hang-up test)."""
from __future__ import annotations

import asyncio
import signal

from core.config import make_config
from core.job import Job
from tui.consolemodel import ConsoleModel
from tui.signals import Signals


class StandIn:
    """The few things of CifarApp the handler uses, recorded."""

    is_headless = True  # the terminal is not let go of here (that is the pty test's)

    def __init__(self, tmp_path):
        self.lines, self.called = [], []
        self.model = ConsoleModel(str(tmp_path / "runs"), self)
        config = make_config({"dataset": "synthetic", "epochs": 3})
        self.model.enqueue([Job(key=k, name=k, config=config) for k in ("a", "b")])
        self.model.queue.take()  # "a" trains, "b" waits

    def log_line(self, text):
        self.lines.append(text)

    def call_next(self, callback, *args):
        self.called.append((getattr(callback, "__name__", callback), *args))


def handled(app, on_hangup, *signums) -> Signals:
    """Each signal handled as the event loop's thread would; the callbacks it scheduled have run."""
    signals = Signals(app, on_hangup)

    async def deliver():
        for signum in signums:
            signals.handle(signum)
        await asyncio.sleep(0)  # call_soon_threadsafe's callbacks run on the next pass

    asyncio.run(deliver())
    return signals


def test_sigterm_stops_the_queue_and_quits_once(tmp_path):
    app = StandIn(tmp_path)
    signals = handled(app, "keep", signal.SIGTERM, signal.SIGTERM)
    assert signals.signalled == signal.SIGTERM and not signals.keep_training
    assert app.model.queue.stop.is_set() and app.model.queue.pending() == []
    assert app.called == [("quit_on_signal",)]  # the second signal changes nothing


def test_a_hang_up_while_training_with_keep_trains_the_queue_to_its_end(tmp_path):
    app = StandIn(tmp_path)
    signals = handled(app, "keep", signal.SIGHUP)
    assert signals.keep_training and signals.signalled is None
    assert not app.model.queue.stop.is_set() and [j.key for j in app.model.queue.pending()] == ["b"]
    assert app.called == [("log_line", "[yellow]SIGHUP received:[/] training the queue to its end, then exiting.")]


def test_a_hang_up_with_stop_or_when_quitting_quits(tmp_path):
    for on_hangup, quitting in (("stop", False), ("keep", True)):
        app = StandIn(tmp_path)
        app.model.quitting = quitting
        signals = handled(app, on_hangup, signal.SIGHUP)
        assert signals.signalled == signal.SIGHUP and not signals.keep_training
        assert app.model.queue.stop.is_set() and app.called == [("quit_on_signal",)]
