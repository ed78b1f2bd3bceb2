"""Snapshots (pytest-textual-snapshot) of the chart key and the compare screen at 80×24 and 200×60
with two experiments on screen: groups of seeds, names that differ only at their end, more curves
than the key's rows hold at 80×24. The runs are folders written by hand (fixed curves), opened
as `o` opens them. Update with `pytest tests/test_snapshots_names.py --snapshot-update` and look
at the .svg files before committing them."""
import json

import pytest

from apphelp import craft_run, make_app, open_past, ready, wait_for
from tui.screens.compare import CompareScreen

SIZES = [(80, 24), (200, 60)]
# (experiment, group, how much lower its loss is, each seed's own wobble (seeds 4, 5, 6))
GROUPS = (("quick-demo", "baseline", 0.0, (0.0, 0.02, -0.01)),
          ("quick-demo", "augmentation+normalization", 0.15, (0.01, -0.02, 0.015)),
          ("ex3-optimizers", "baseline+sgd+lr0.01", 0.05, (-0.01, 0.0, 0.02)),  # names that differ at the end only
          ("ex3-optimizers", "baseline+sgd+lr0.02", 0.06, (0.02, -0.015, 0.0)))


def two_experiments(logdir) -> list:
    paths = []
    for experiment, group, better, wobbles in GROUPS:
        settings = {"optimizer": "sgd", "lr": float(group[-4:])} if "sgd" in group else \
            {"augment": "augm" in group, "normalize": "augm" in group}
        for seed, wobble in zip((4, 5, 6), wobbles):
            path = craft_run(logdir, experiment, f"{group}-s{seed}",
                             [2.2 - better - wobble, 1.7 - better - wobble, 1.4 - 1.5 * better - wobble],
                             seed=seed, **settings)
            meta = json.loads((path / "config.json").read_text())
            (path / "config.json").write_text(json.dumps({**meta, "group": group}))
            paths.append(path)
    return paths


def opened(app, tmp_path):
    async def run_before(pilot):
        await wait_for(pilot, lambda: ready(app))
        open_past(app, two_experiments(tmp_path / "runs"))
        app.model.mark_charts()
        await wait_for(pilot, lambda: len(app.charts.query_one("#chart-train_loss").series) == 4)
        await pilot.press("escape")
        await pilot.pause(0.5)
    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_key_with_two_experiments(snap_compare, tmp_path, size):
    app = make_app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=opened(app, tmp_path))


@pytest.mark.parametrize("size", SIZES)
def test_compare_with_two_experiments(snap_compare, tmp_path, size):
    app = make_app(tmp_path)
    before = opened(app, tmp_path)

    async def compare(pilot):
        await before(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.rows()) == 4)
        await pilot.pause(1.2)  # a reload at the screen's own width

    assert snap_compare(app, terminal_size=size, run_before=compare)
