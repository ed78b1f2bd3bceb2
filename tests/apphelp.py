"""Helpers for driving the console in tests (App.run_test + Pilot)."""
from __future__ import annotations

import asyncio
import functools
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


def make_app(tmp_path, **kwargs) -> CifarApp:
    return CifarApp(logdir=str(tmp_path / "runs"), **kwargs)


async def wait_for(pilot, condition, timeout: float = 90.0) -> None:
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


def log_text(app) -> str:
    """The log pane's text with its soft wraps undone (lines joined by single spaces)."""
    return " ".join(" ".join(line.text.split()) for line in app.get_screen_main().query_one("#log").lines)


def statuses(app) -> dict:
    return {v.name: v.status for v in app.views}


async def start_long_run(pilot, app) -> None:
    """Start a 50-epoch run of the form and wait until its first epoch is in (for stop/quit tests)."""
    await wait_for(pilot, lambda: ready(app))
    await fill(pilot, app, epochs="50", **FAST)
    await pilot.press("s")
    await wait_for(pilot, lambda: any(v.metrics for v in app.views))
