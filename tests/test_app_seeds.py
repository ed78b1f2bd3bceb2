"""The console's compare screen shows groups of seeds: one row each, with n, mean ± sd, Δ with
its CI, the adjusted p and the verdict; a row's overlay toggle acts on all its seeds; `b` picks the
reference, `d` a difference that matters, `n` queues the seeds a group needs."""
import json
from pathlib import Path

import pytest
from rich.console import Console

from apphelp import FAST, fill, make_app, ready, sync, tiny_synthetic, type_into, wait_for
from core.config import make_config
from core.seeds import parse_seeds
from cpu import one_thread
from test_charts import Drawn
from tui.widgets.chartkey import ChartKey
from tui.widgets.charts import MetricChart
from core.records import read_run, write_json, write_status
from tui.report import COLUMNS
from tui.screens.compare import CompareScreen

COL = {key: k for k, (_, key, _) in enumerate(COLUMNS)}


class Dimmed(Drawn):
    """A rendered chart's cells, and which of them are dim (a group's spread)."""

    def __init__(self, chart):
        super().__init__(chart)
        console = Console(width=chart.size.width, color_system="256", force_terminal=True)
        self.dim = [[bool(seg.style and seg.style.dim) for seg in line.render(console) for _ in seg.text]
                    for line in chart.render().split("\n")]

    def any_dim(self) -> bool:
        return any(d for row, cells in zip(self.dim, self.rows) for d, (ch, _) in zip(row, cells) if ch.strip())


def seed_run(logdir, group, seed, test_acc):
    path = Path(logdir) / "study" / f"{group}-s{seed}"
    path.mkdir(parents=True)
    write_json(path / "config.json", {"experiment": "study", "run": path.name, "group": group,
                                      "config": make_config({"dataset": "synthetic", "seed": seed}).to_dict()})
    rows = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 2 - test_acc, "test_acc": test_acc}]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_status(path, "finished", "", 1)
    return path


@sync
async def test_compare_screen_has_a_row_per_group_with_its_evidence(tmp_path):
    logdir = tmp_path / "runs"
    paths = [seed_run(logdir, "baseline", s, a) for s, a in zip((4, 5, 6), (0.50, 0.52, 0.51))]
    paths += [seed_run(logdir, "dropout", s, a) for s, a in zip((4, 5, 6), (0.60, 0.63, 0.61))]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        for path in paths:
            app.table.show(app.views.add_past(read_run(path)))
        app.model.mark_charts()
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        table = screen.query_one("#compare-table")
        assert [g.label for g in screen.rows()] == ["dropout", "baseline"] and table.row_count == 2
        dropout = screen.rows()[0]
        row = [cell.plain for cell in table.get_row(screen.view_of(dropout).key)]
        assert row[COL["n"]] == "3" and row[COL["test_acc"]] == "0.613±0.015"
        # by hand, paired by seed: differences 0.10, 0.11, 0.10, mean 0.1033, sd 0.005774, se 0.003333;
        # t(0.975, 2 d.f.) = 4.303: half-width 0.014; t = 31, two-sided p = 1 - 31/sqrt(31² + 2) = 0.0010
        assert row[COL["delta_test_acc"]] == "+0.103±0.014"
        assert row[COL["p"]] == "0.001" and row[COL["verdict"]] == "better (paired, n = 3)"
        assert [cell.plain for cell in table.get_row(screen.view_of(screen.rows()[1]).key)][COL["verdict"]] == "reference"
        # space on the dropout row takes all three of its seeds off the charts, and back
        seeds = [v for v in app.views if v.run_dir and Path(v.run_dir).name.startswith("dropout")]
        assert len(seeds) == 3 and all(v.overlay for v in seeds)
        await pilot.press("space")
        assert not any(v.overlay for v in seeds) and all(v.overlay for v in app.views if v not in seeds)
        assert table.get_row(screen.view_of(dropout).key)[0].plain.startswith("○ dropout")
        await pilot.press("space")
        assert all(v.overlay for v in seeds)
        # b: dropout (the selected row) becomes the reference; the baseline is now worse than it
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.comparison.picked)
        base = next(g for g in screen.rows() if g.label == "baseline")
        assert base.reference == "dropout" and base.verdict == "worse (paired, n = 3)"
        title = str(screen.query_one("#compare-title").render())
        assert "Δ: minus dropout (picked; b: back) ±95% CI" in title
        # d: 0.5 points; the baseline row says how many seeds would detect it, and n queues them
        # for both groups (the same seeds on both sides, so they stay paired)
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.comparison.difference == 0.005)
        base = next(g for g in screen.rows() if g.label == "baseline")
        needed = base.contrasts["test_acc"].needed
        assert needed > 3  # sd of the differences 0.58 points: 0.5 points needs more than three pairs
        cells = [c.plain for c in table.get_row(screen.view_of(base).key)]
        assert cells[COL["seeds_needed"]] == str(needed)
        queued = []
        screen.on_queue = lambda experiment, jobs: queued.append((experiment, jobs))
        table.move_cursor(row=[g.label for g in screen.rows()].index("baseline"))
        await pilot.press("n")
        extra = list(range(7, 7 + needed - 3))
        assert [(e, [(j.name, j.config.seed, j.group) for j in jobs]) for e, jobs in queued] == [
            ("study", [(f"baseline-s{s}", s, "baseline") for s in extra]),
            ("study", [(f"dropout-s{s}", s, "dropout") for s in extra])]


# --- the form's seeds field: every run x every seed, one data load ---------------------------

@sync
async def test_seeds_field_queues_every_run_for_every_seed_with_one_data_load(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: loads.append(1) or tiny_synthetic())
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app) and app.side.preset.name == "quick-demo")
        await type_into(pilot, app, "seeds", "0")  # a bad value: its sentence under the field, nothing starts
        assert "0 seeds is too few" in str(app.side.form.query_one("#error-seeds").render())
        await pilot.press("escape", "a")
        assert len(app.views) == 0
        with one_thread():
            await fill(pilot, app, seeds="7,9", epochs="1", **FAST)
            await pilot.press("a")
            await wait_for(pilot, lambda: len(app.views) == 4 and not app.running
                           and all(v.status == "finished" for v in app.views))
        # named after the form's edits, as `s` names them
        base, both = "baseline+frac0.5+ep1+cpu", "augmentation+normalization+frac0.5+ep1+cpu"
        colours = {v.name: v.colour for v in app.views}  # one colour per group, shared by its seeds
        assert colours[f"{base}-s7"] == colours[f"{base}-s9"] != colours[f"{both}-s7"]
        assert colours[f"{both}-s7"] == colours[f"{both}-s9"]
        chart = chart_of(app)
        await wait_for(pilot, lambda: [s[0] for s in chart.series] == [f"{base} (n=2)", f"{both} (n=2)"])
    folders = sorted(Path(v.run_dir).name for v in app.views)
    assert folders == [f"{both}-s7", f"{both}-s9", f"{base}-s7", f"{base}-s9"]
    for view in app.views:
        meta = json.loads((Path(view.run_dir) / "config.json").read_text())
        assert meta["group"] == view.name.rsplit("-s", 1)[0] and meta["config"]["seed"] == int(view.name[-1])
    assert len(loads) == 1  # four runs of one queue, one load of the data set


@sync
async def test_a_preset_with_seeds_fills_the_fields_placeholder_and_blank_means_its_seeds(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        form = app.side.form
        assert form.widget("seeds").value == "" and form.seeds().of(4) == [4]  # the default: one seed
        form.preset_seeds(parse_seeds("3"))
        assert form.widget("seeds").placeholder == "3" and form.seeds().of(4) == [4, 5, 6]
        await type_into(pilot, app, "seeds", "4,4")
        assert form.seeds() is None and form.validate() is None
        assert "seed 4 is listed twice" in form.errors["seeds"]


# --- the charts draw a group as its mean and spread --------------------------------------------

# train loss of three seeds of one configuration; by hand, per epoch:
#   mean  (2.0+2.2+1.8)/3 = 2.0,  (1.6+1.4+1.5)/3 = 1.5,  (1.2+1.0+1.4)/3 = 1.2
#   min   1.8, 1.4, 1.0           max   2.2, 1.6, 1.4
SEED_LOSSES = {1: (2.0, 1.6, 1.2), 2: (2.2, 1.4, 1.0), 3: (1.8, 1.5, 1.4)}
MEANS, LOWS, HIGHS = [2.0, 1.5, 1.2], [1.8, 1.4, 1.0], [2.2, 1.6, 1.4]


def rows_of(losses, acc=0.5):
    return [dict(epoch=e, train_loss=v, test_loss=v + 0.1, train_acc=acc, test_acc=acc)
            for e, v in enumerate(losses, 1)]


def add_group(app, name, losses_by_seed, experiment="quick-demo", **config):
    config = make_config({"dataset": "synthetic", **config})
    views = [app.views.add(f"{name}-s{seed}", experiment, config=config.replace(seed=seed).to_dict(),
                           metrics=rows_of(losses), status="finished", epochs=len(losses), group=name)
             for seed, losses in losses_by_seed.items()]
    for view in views:
        app.table.show(view)
    app.model.mark_charts()
    return views


def chart_of(app, metric="train_loss") -> MetricChart:
    return app.get_screen_main().query_one(f"#chart-{metric}", MetricChart)


def near(drawn, rows, value) -> bool:
    return any(abs(drawn.value_at_row(r) - value) <= drawn.row_value_step() / 2 + 1e-9 for r in rows)


def column_rows(drawn, colour, column, dim):
    """Rows of the braille cells in `colour` at `column` that are (not) dim."""
    return {i for i, j in drawn.cells(colour) if j == column and drawn.dim[i][j] == dim}


@sync
async def test_a_group_of_three_seeds_draws_its_mean_and_min_max_spread(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        seeds = add_group(app, "baseline", SEED_LOSSES)
        chart = chart_of(app)
        await wait_for(pilot, lambda: len(chart.series) == 1)
        assert len({v.colour for v in seeds}) == 1  # one colour per group
        ((label, colour, x, y),) = chart.drawn()
        assert label == "baseline (n=3)" and colour == seeds[0].colour and x == [1, 2, 3]
        assert y == pytest.approx(MEANS)
        ((sx, low, high),) = chart.drawn_spread().values()
        assert sx == [1, 2, 3] and low == pytest.approx(LOWS) and high == pytest.approx(HIGHS)
        drawn = Dimmed(chart)
        first, last = drawn.axis_col + 1, max(j for _, j in drawn.cells(colour))
        for column, k in ((first, 0), (last, 2)):  # epoch 1 and epoch 3, read off the screen
            assert near(drawn, column_rows(drawn, colour, column, dim=False), MEANS[k])
            spread = column_rows(drawn, colour, column, dim=True)
            assert near(drawn, spread, LOWS[k]) and near(drawn, spread, HIGHS[k])
        # the key and the cursor's readout name the group with n, and read the mean
        chart.focus()
        await pilot.press("end")
        prefix, items, _ = chart.readout()
        assert prefix == "epoch 3:  " and items == [(colour, "baseline (n=3) 1.200")]
        key = str(app.get_screen_main().query_one(ChartKey).render())
        assert "baseline (n=3) 1.200" in key


@sync
async def test_e_draws_each_seed_on_its_own_and_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        seeds = add_group(app, "baseline", SEED_LOSSES)
        chart = chart_of(app)
        await wait_for(pilot, lambda: len(chart.series) == 1)
        app.table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: len(chart.series) == 3)
        assert [s[0] for s in chart.drawn()] == [v.label for v in seeds] == ["baseline-s1", "baseline-s2", "baseline-s3"]
        assert [s[3] for s in chart.drawn()] == [list(v) for v in SEED_LOSSES.values()]
        assert not chart.drawn_spread() and not Dimmed(chart).any_dim()
        await pilot.press("e")
        await wait_for(pilot, lambda: len(chart.series) == 1)
        assert chart.series[0][0] == "baseline (n=3)"


@sync
async def test_a_one_seed_group_draws_as_a_single_run_and_groups_get_their_own_colour(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        (single,) = add_group(app, "dropout", {4: (1.9, 1.3, 0.9)}, regularizer="dropout")
        seeds = add_group(app, "baseline", SEED_LOSSES)
        chart = chart_of(app)
        await wait_for(pilot, lambda: len(chart.series) == 2)
        one = next(s for s in chart.drawn() if s[1] == single.colour)
        assert one == (single.label, single.colour, [1, 2, 3], [1.9, 1.3, 0.9])  # its own values, its label
        assert single.colour != seeds[0].colour
        assert list(chart.drawn_spread()) == [1]  # the baseline group's spread only
        drawn = Dimmed(chart)
        assert drawn.cells(single.colour) and not any(drawn.dim[i][j] for i, j in drawn.cells(single.colour))


@sync
async def test_a_group_still_training_draws_the_seeds_it_has(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        seeds = add_group(app, "baseline", SEED_LOSSES)
        seeds[2].metrics = seeds[2].metrics[:1]  # seed 3 has finished epoch 1 only
        seeds[2].status = "running"
        waiting = app.views.add("baseline-s4", "quick-demo", group="baseline", status="queued",
                                config=make_config({"dataset": "synthetic", "seed": 4}).to_dict())
        app.model.mark_charts()
        chart = chart_of(app)
        await wait_for(pilot, lambda: len(chart.series) == 1 and chart.series[0][0] == "baseline (n=3)")
        ((_, _, x, y),) = chart.drawn()
        # epoch 1 over three seeds: 2.0; epochs 2 and 3 over seeds 1 and 2: (1.6+1.4)/2, (1.2+1.0)/2
        assert x == [1, 2, 3] and y == pytest.approx([2.0, 1.5, 1.1])
        assert waiting.colour is None


@sync
async def test_seed_records_opened_from_the_log_dir_draw_as_their_groups(tmp_path):
    logdir = tmp_path / "runs"
    paths = [seed_run(logdir, "baseline", s, a) for s, a in zip((4, 5, 6), (0.50, 0.52, 0.51))]
    paths += [seed_run(logdir, "dropout", s, a) for s, a in zip((4, 5), (0.60, 0.63))]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        for path in paths:
            app.table.show(app.views.add_past(read_run(path)))
        app.model.mark_charts()
        chart = chart_of(app, "test_acc")
        await wait_for(pilot, lambda: len(chart.series) == 2)
        # one epoch each: the means by hand, (0.50+0.52+0.51)/3 and (0.60+0.63)/2
        assert [(label, y) for label, _, _, y in chart.drawn()] == [
            ("baseline (n=3)", [pytest.approx(0.51)]), ("dropout (n=2)", [pytest.approx(0.615)])]
