"""The console names each run once, from its queued row to its folder, the chart key and compare
(Pilot, headless): queued rows name the folders their runs get, the synthetic-data offer names a
run as the form would, a seed trained already joins its group, the key says "+N more", and `?`
lists every key."""
import json
from pathlib import Path

import pytest

from apphelp import (FAST, app_without_cifar, craft_run, fill, log_text, make_app, open_past, ready,
                     start_without_cifar, sync, wait_for)
from core.placement import Placement
from tui.screens.compare import CompareScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.widgets.chartkey import ChartKey
from tui.widgets.charts import MetricChart
from tui.widgets.fullchart import RangedChart


pytestmark = pytest.mark.usefixtures("small_synthetic")


@sync
async def test_queued_rows_name_the_folders_their_runs_get(tmp_path):
    name = "baseline+frac0.5+ep1+cpu"  # quick-demo's baseline with FAST and one epoch
    (tmp_path / "runs" / "quick-demo" / name).mkdir(parents=True)  # an earlier session's run
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="1", **FAST)
        await pilot.press("s", "s", "s")  # one trains, two wait
        await wait_for(pilot, lambda: len(app.views) == 3)
        promised = {v.key: v.label for v in app.views}
        assert sorted(promised.values()) == [f"{name}-2", f"{name}-3", f"{name}-4"]
        await wait_for(pilot, lambda: not app.running and all(v.status == "finished" for v in app.views))
        for view in app.views:  # each run made the folder its row named while it waited
            assert Path(view.run_dir).name == view.label == promised[view.key], log_text(app)


@sync
async def test_the_synthetic_offer_names_the_run_as_the_form_does(tmp_path):
    app = app_without_cifar(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_without_cifar(pilot, app)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.views) == 2 and not app.running)
        failed, rerun = app.views
        assert failed.name == "baseline+ep1+cpu" and rerun.status == "finished", log_text(app)
        # the form now says synthetic too: `s` would give the same settings the same name
        assert rerun.name == app.side.run_name == "baseline+synthetic+ep1+cpu"
        await pilot.press("s")
        await wait_for(pilot, lambda: len(app.views) == 3 and not app.running)
        again = list(app.views)[2]
        assert (again.group, again.label) == (rerun.name, f"{rerun.name}-2")


@sync
async def test_a_seed_trained_already_joins_its_group_and_is_not_trained_again(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="1", **FAST)
        await pilot.press("s")  # quick-demo's baseline, seed 4
        await wait_for(pilot, lambda: not app.running and len(app.views) == 1)
        await fill(pilot, app, seeds="3")
        await pilot.press("s")  # seeds 4, 5, 6: seed 4 is trained
        await wait_for(pilot, lambda: not app.running and len(app.views) == 3)
        name = "baseline+frac0.5+ep1+cpu"
        assert [v.label for v in app.views] == [name, f"{name}-s5", f"{name}-s6"], log_text(app)
        assert f"Trained already, not queued again: {name} (seed 4)" in log_text(app)
        chart = app.get_screen_main().query_one("#chart-train_loss", MetricChart)
        await wait_for(pilot, lambda: [s[0] for s in chart.series] == [f"{name} (n=3)"])
        await pilot.press("c")  # compare: one row of three seeds
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.rows())
        (row,) = app.screen.rows()
        assert row.n == 3 and app.screen.labels([row]) == [f"{name} (n=3)"]


def nine_runs(logdir, experiments=("quick-demo", "ex1-normalization-augmentation")):
    """Nine finished runs over two experiments, names that differ only at the end."""
    return [craft_run(logdir, experiments[k % 2], f"augmentation+normalization+frac0.1+ep{k + 1}",
                      [2.0 - 0.1 * k, 1.6 - 0.1 * k, 1.3 - 0.1 * k]) for k in range(9)]


@sync
async def test_the_key_says_plus_n_more_at_80x24_and_the_table_lists_every_curve(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, nine_runs(tmp_path / "runs"))
        app.model.mark_charts()
        key = app.get_screen_main().query_one(ChartKey)
        await wait_for(pilot, lambda: "more" in str(key.render()))
        lines = str(key.render()).splitlines()
        shown = sum(f"+ep{k} " in str(key.render()) for k in range(1, 10))  # shortened, their ends kept
        assert len(lines) <= 3 and 4 <= shown < 9 and f"+{9 - shown} more" in lines[-1]
        table = [str(app.table.get_row(v.key)[0]) for v in app.views]  # every curve has its row
        assert len(set(table)) == 9 and all(label.endswith(f"+ep{k} (past)") for k, label in enumerate(table, 1))


@sync
async def test_help_lists_every_key_of_the_app_the_main_screen_the_charts_the_full_screen_chart_and_compare(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = {key for keys, _ in app.screen.keys for key in keys.split(", ")}
        names = {"question_mark": "?", "left": "←", "right": "→", "slash": "/", "left_square_bracket": "[",
                 "right_square_bracket": "]", "left_curly_bracket": "{", "right_curly_bracket": "}"}
        bound = {names.get(k, k) for cls in (type(app), MainScreen, MetricChart, RangedChart, CompareScreen)
                 for b in cls.BINDINGS for k in b.key.split(",")}
        assert bound - listed == set()
        assert {"v", "←", "→", "home", "end"} <= listed
        rows = app.screen.keys
        assert ("←, →", "cursor") in [(keys, "cursor" if "cursor an epoch" in what else "") for keys, what in rows]
        assert any(keys == "home, end" and "first / last" in what for keys, what in rows)
        assert any(keys == "v" and "next chart" in what for keys, what in rows)  # the main screen's v
        assert any(keys == "v" and "compare screen" in what for keys, what in rows)  # and compare's


@sync
async def test_a_run_started_twice_on_one_seed_has_its_compare_row_or_says_why_not(tmp_path):
    logdir = tmp_path / "runs"
    first = craft_run(logdir, "quick-demo", "baseline", [2.0, 1.5], seed=4)
    second = craft_run(logdir, "quick-demo", "baseline-2", [2.0, 1.4], seed=4)  # started again
    meta = json.loads((second / "config.json").read_text())  # as the trainer names a run's group
    (second / "config.json").write_text(json.dumps({**meta, "run": "baseline", "group": "baseline"}))
    other = craft_run(logdir, "quick-demo", "augmentation+normalization", [1.9, 1.2], seed=4,
                      augment=True, normalize=True)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, [first, second, other])
        app.model.mark_charts()
        chart = app.get_screen_main().query_one("#chart-train_loss", MetricChart)
        await wait_for(pilot, lambda: len(chart.series) == 3)  # both starts drawn, each on its own
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.rows())
        screen = app.screen
        rows = screen.rows()
        assert sorted(screen.labels(rows)) == ["augmentation+normalization (past)", "baseline-2 (past)"]
        table = screen.query_one("#compare-table")
        cell = next(str(table.get_row(r.key)[0]) for r in table.ordered_rows if "baseline-2" in str(table.get_row(r.key)[0]))
        assert "baseline (past): seed 4 ran twice; baseline-2 counts" in " ".join(cell.split())


@sync
async def test_with_parallel_2_each_row_keeps_one_name_from_queued_to_its_folder(tmp_path):
    (tmp_path / "runs" / "quick-demo" / "augmentation+normalization+frac0.05+ep2+bs100+cpu").mkdir(parents=True)
    app = make_app(tmp_path, placement=Placement(kind="processes", parallel=2, devices=("cpu",)))
    seen: dict = {}  # every label each row showed, as the table drew it

    def look():
        for view in app.views:
            seen.setdefault(view.key, set()).add(view.label)
        return len(app.views) == 2 and not app.running and all(v.status != "queued" for v in app.views)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="2", train_fraction="0.05", batch_size="100", device="cpu")
        await pilot.press("a")  # quick-demo: two runs, started together in two workers
        await wait_for(pilot, look, timeout=240)
        for view in app.views:
            assert view.status == "finished", log_text(app)
            assert seen[view.key] == {Path(view.run_dir).name}, seen  # one name, the folder's, all along
        assert sorted(Path(v.run_dir).name for v in app.views) == [
            "augmentation+normalization+frac0.05+ep2+bs100+cpu-2", "baseline+frac0.05+ep2+bs100+cpu"]
