"""Helpers for driving the console in tests (App.run_test + Pilot)."""
from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import time

from core.data import synthetic as _synthetic  # the original, before tests patch it
from tui.app import CifarApp

# with small_synthetic: 300 training images (3 batches an epoch) and 200 test images, on the CPU
FAST = {"train_fraction": "0.5", "device": "cpu"}


@functools.lru_cache(maxsize=None)
def tiny_synthetic(n_train: int = 600, n_test: int = 200, seed: int = 0):
    """A smaller synthetic set than the trainer's default (10,000 + 2,000), made once."""
    return _synthetic(n_train, n_test, seed)


def sync(test):
    """Run an async test with asyncio.run (no pytest-asyncio plugin needed)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return wrapper


def make_app(tmp_path, placement=None, train=None, **kwargs) -> CifarApp:
    """The console over tmp_path/runs; its runs train where `placement` (core.placement) says, or
    here with `train` standing in for the trainer (a scripted one), else here for real."""
    from core.executor import ThreadExecutor
    from core.placement import make_executor

    logdir = str(tmp_path / "runs")
    if placement is not None:
        kwargs["executor"] = make_executor(placement, logdir)
    elif train is not None:
        kwargs["executor"] = ThreadExecutor(logdir, train=train)
    return CifarApp(logdir=logdir, **kwargs)


async def wait_for(pilot, condition, timeout: float = 300.0) -> None:
    """Let the app run until `condition()` holds (the deadline only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the console"
        await pilot.pause(0.05)


async def type_into(pilot, app, field: str, text: str) -> None:
    """Clear a form field and type `text` into it, key by key."""
    widget = app.side.form.widget(field)
    widget.focus()
    widget.value = ""
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()


async def fill(pilot, app, **values) -> None:
    for field, text in values.items():
        await type_into(pilot, app, field, str(text))
    await pilot.press("escape")  # leave the form so the letter keys act


def ready(app) -> bool:
    """The main screen is up and a preset is chosen."""
    from textual.css.query import NoMatches

    try:
        return app.side.preset is not None
    except NoMatches:
        return False


def drawn_all(app) -> bool:
    """The charts' refresh timer has drawn everything the app marked for them, no progress line
    waits to be drawn, and the runs table has measured its changed cells (a DataTable widens
    its columns when it is next idle): what a test reads off the screen now stays as it is."""
    return not app.model.charts_dirty and not app.model.progress and app.table.settled


def log_text(app) -> str:
    """The log pane's text with its soft wraps undone (lines joined by single spaces)."""
    return " ".join(" ".join(line.text.split()) for line in app.get_screen_main().query_one("#log").lines)


def statuses(app) -> dict:
    return {v.name: v.status for v in app.views}


async def start_long_run(pilot, app) -> None:
    """Start a run of the form long enough never to end by itself (the tests stop it) and wait
    until its first epoch is in (for stop, quit and queue tests)."""
    await wait_for(pilot, lambda: ready(app))
    await fill(pilot, app, epochs="5000", **FAST)
    await pilot.press("s")
    await wait_for(pilot, lambda: any(v.metrics for v in app.views))


def craft_run(logdir, experiment: str, name: str, train_loss: list[float], status: str = "finished",
              **settings):
    """A finished run folder written by hand (no training): known curves, instantly.

    Test loss follows train loss + 0.1, accuracies 1 - loss/3; `settings` change its config."""
    import json
    from pathlib import Path

    from core.config import make_config
    from core.records import write_json, write_status

    path = Path(logdir) / experiment / name
    path.mkdir(parents=True)
    config = make_config({"dataset": "synthetic", "epochs": len(train_loss), **settings}).to_dict()
    write_json(path / "config.json", {"experiment": experiment, "run": name, "config": config})
    rows = [{"epoch": e + 1, "train_loss": loss, "test_loss": loss + 0.1, "train_acc": 1 - loss / 3,
             "test_acc": 1 - (loss + 0.1) / 3, "seconds": 2.0} for e, loss in enumerate(train_loss)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_status(path, status, f"{status} {len(rows)} epochs.", len(rows))
    return path


def open_past(app, paths) -> list:
    """Put run folders on screen as `o` would; returns their views."""
    from core.records import read_run

    views = [app.views.add_past(read_run(path)) for path in paths]
    app.model.relabel()
    return views


def drawn_lines(widget) -> list[str]:
    """The widget's text as it is drawn now (its last render), one string per row."""
    from textual.geometry import Region

    width, height = widget.outer_size  # borders too
    return ["".join(segment.text for segment in line) for line in widget.render_lines(Region(0, 0, width, height))]


def feed(app, view, *events) -> None:
    """Hand core events for `view` to the app as the training thread would (synchronously)."""
    from tui.messages import TrainerEvent

    for event in events:
        app.on_trainer_event(TrainerEvent(view.key, event))


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}


def headless_writer(logdir, *args: str, timeout: float = 600.0) -> subprocess.Popen:
    """`cifar-tui run ARGS --logdir LOGDIR` in another process (output: its stderr pipe);
    returns once it trains a run (a live lock under the log dir)."""
    from core.follow import live_runs

    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", *args, "--logdir", str(logdir)], cwd=ROOT,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while not live_runs(logdir):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the headless run did not start"
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def dead_pid() -> int:
    """A process id that was in use a moment ago and is free now."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def app_without_cifar(tmp_path) -> CifarApp:
    """A console where CIFAR-10 is not on disk and its download fails at once (nothing listens
    on port 9), offline-style."""
    return make_app(tmp_path, data_dir=str(tmp_path / "empty"), data_url="http://127.0.0.1:9/c.tar.gz")


async def start_without_cifar(pilot, app) -> None:
    """Start the preset's baseline for 1 epoch on CIFAR-10 and wait for the synthetic-data offer."""
    from tui.screens.dialogs import DataMissingScreen

    await wait_for(pilot, lambda: ready(app))
    app.side.choose("baseline")
    await pilot.pause()
    await fill(pilot, app, epochs="1", **FAST)
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, DataMissingScreen))
