"""Snapshots of the main screen (pytest-textual-snapshot): idle, and after a finished quick run.

Deterministic: a tiny synthetic run with a fixed seed on the CPU, and the run
times replaced by a constant. Update with `pytest tests/test_snapshots.py --snapshot-update`
and look at the .svg files before committing them.
"""
import pytest

from apphelp import FAST, fill, make_app, ready, tiny_synthetic, wait_for

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def deterministic(monkeypatch):
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
    monkeypatch.setattr("tui.widgets.runs_table.format_duration", lambda seconds: "0:01")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same float sums whatever the machine's core count
    yield
    torch.set_num_threads(threads)


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
        await fill(pilot, app, epochs="3", **FAST)
        await pilot.press("a")
        await wait_for(pilot, lambda: len(app.views) == 2 and not app.running)
        await pilot.pause(0.6)  # the charts' refresh tick

    assert snap_compare(app, terminal_size=size, run_before=finished_run)
