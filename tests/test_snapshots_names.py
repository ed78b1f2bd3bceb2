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
# (experiment, group, seeds, how much lower its loss is)
GROUPS = (("quick-demo", "baseline", (4, 5, 6), 0.0),
          ("quick-demo", "augmentation+normalization", (4, 5, 6), 0.15),
          ("ex1-normalization-augmentation", "baseline+frac0.1+ep3", (4, 5, 6), 0.05),
          ("ex1-normalization-augmentation", "baseline+frac0.2+ep3", (4, 5, 6), 0.1))


def two_experiments(logdir) -> list:
    paths = []
    for experiment, group, seeds, better in GROUPS:
        for seed in seeds:
            wobble = (seed - 5) * 0.03
            path = craft_run(logdir, experiment, f"{group}-s{seed}",
                             [2.2 - better - wobble, 1.7 - better - wobble, 1.4 - 1.5 * better - wobble],
                             seed=seed, train_fraction=0.1 if "0.1" in group else 0.2,
                             augment="augm" in group, normalize="augm" in group)
            meta = json.loads((path / "config.json").read_text())
            (path / "config.json").write_text(json.dumps({**meta, "group": group}))
            paths.append(path)
    return paths


def opened(app, tmp_path):
    async def run_before(pilot):
        await wait_for(pilot, lambda: ready(app))
        open_past(app, two_experiments(tmp_path / "runs"))
        app._mark_charts()
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
