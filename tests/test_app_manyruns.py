"""Many runs in the console, driven by keys: `/` filters the table and the charts, G groups the
table, z folds finished runs, enter puts a focused chart on the whole screen with its epoch range
narrowed by [ ] { }, escape returns."""
from apphelp import drawn_all, log_text, make_app, ready, sync, wait_for
from core.config import RunConfig
from tui.screens.chart import ChartScreen
from tui.screens.filter import FilterScreen
from tui.tableshape import GROUP_PREFIX


def curve(epochs, shift):
    return [{"epoch": e, "train_loss": 2.0 - 0.1 * e + shift, "test_loss": 2.1 - 0.1 * e + shift,
             "train_acc": 0.2 + 0.05 * e, "test_acc": 0.2 + 0.04 * e - shift, "seconds": 1.0}
            for e in range(1, epochs + 1)]


RUNS = (("sgd-lr0.01", "sgd", 0.01, "finished"), ("sgd-lr0.001", "sgd", 0.001, "stopped"),
        ("adam-lr0.01", "adam", 0.01, "finished"), ("adam-lr0.001", "adam", 0.001, "finished"))


async def four_runs(pilot, app) -> dict:
    await wait_for(pilot, lambda: ready(app))
    keys = {}
    for k, (name, optimizer, lr, status) in enumerate(RUNS):
        config = RunConfig(optimizer=optimizer, lr=lr, epochs=12, dataset="synthetic").to_dict()
        view = app.views.add(name, "ex3", config=config, status=status, epochs=12, metrics=curve(12, 0.05 * k),
                             run_dir=f"runs/ex3/{name}")
        keys[name] = view.key
    app.model.relabel()
    await wait_for(pilot, lambda: drawn_all(app) and len(app.charts.query_one("#chart-test_acc").series) == 4)
    return keys


def table_rows(app) -> list[str]:
    return [key.value for key in app.table.rows]


def series_labels(app, metric="test_acc") -> list[str]:
    return [label for label, *_ in app.charts.query_one(f"#chart-{metric}").series]


@sync
async def test_slash_filters_the_table_and_the_charts_and_an_empty_filter_shows_all(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = await four_runs(pilot, app)
        app.table.focus()
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen))
        await pilot.press(*"lr=0.01")
        await wait_for(pilot, lambda: "2 of 4 runs match" in str(app.screen.query_one("#filter-result").render()))
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen) and drawn_all(app))
        assert table_rows(app) == [keys["sgd-lr0.01"], keys["adam-lr0.01"]]
        assert series_labels(app) == ["sgd-lr0.01", "adam-lr0.01"]
        assert str(app.table.columns["run"].label) == "run (/ 2 of 4)"
        assert "Filter lr=0.01: 2 of 4 runs" in log_text(app)

        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen))
        await pilot.press(*" adam", "enter")  # added to the filter: both words must match
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen) and drawn_all(app))
        assert app.many.filter.text == "lr=0.01 adam"
        assert table_rows(app) == [keys["adam-lr0.01"]] and series_labels(app) == ["adam-lr0.01"]

        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen))
        await pilot.press(*" sgd", "enter")  # nothing is adam and sgd: the charts say why they are empty
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen) and drawn_all(app))
        chart = app.charts.query_one("#chart-test_acc")
        assert table_rows(app) == [] and chart.series == []
        assert "no run matches the filter lr=0.01 adam sgd" in chart._empty(80, 12).plain

        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterScreen))
        await pilot.press("ctrl+u", *"lr=")  # a word it cannot read: said, and enter keeps it open
        await wait_for(pilot, lambda: "give a value after =" in str(app.screen.query_one("#filter-result").render()))
        await pilot.press("enter")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press("ctrl+u", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FilterScreen) and drawn_all(app))
        assert table_rows(app) == list(keys.values()) and len(series_labels(app)) == 4
        assert str(app.table.columns["run"].label) == "run"


@sync
async def test_G_groups_the_table_by_each_setting_that_differs_and_z_folds_finished_runs(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = await four_runs(pilot, app)
        app.table.focus()
        await pilot.press("G")  # the first setting that differs, in config order: the optimizer (by name)
        await wait_for(pilot, lambda: table_rows(app)[0].startswith(GROUP_PREFIX))
        assert table_rows(app) == [GROUP_PREFIX + "gadam", keys["adam-lr0.01"], keys["adam-lr0.001"],
                                   GROUP_PREFIX + "gsgd", keys["sgd-lr0.01"], keys["sgd-lr0.001"]]
        await pilot.press("G")  # the next: the rate, smallest first
        await wait_for(pilot, lambda: GROUP_PREFIX + "glr 0.001" in table_rows(app))
        assert table_rows(app) == [GROUP_PREFIX + "glr 0.001", keys["sgd-lr0.001"], keys["adam-lr0.001"],
                                   GROUP_PREFIX + "glr 0.01", keys["sgd-lr0.01"], keys["adam-lr0.01"]]
        await pilot.press("z")  # finished runs fold into one line per group; the stopped one stays
        await wait_for(pilot, lambda: len(table_rows(app)) == 5)
        rows = table_rows(app)
        assert rows[:2] == [GROUP_PREFIX + "glr 0.001", keys["sgd-lr0.001"]]
        assert str(app.table.get_row(rows[2])[0]).strip() == "▸ 1 finished"
        assert str(app.table.get_row(rows[4])[0]).strip() == "▸ 2 finished"
        assert len(series_labels(app)) == 4  # folding is the table's: the charts draw every run
        app.table.move_cursor(row=0)
        await pilot.press("x")  # a group's line is no run: nothing to stop, nothing breaks
        await pilot.press("G", "z")  # no grouping, nothing folded: every run in screen order
        await wait_for(pilot, lambda: table_rows(app) == list(keys.values()))


@sync
async def test_enter_on_a_chart_fills_the_screen_and_brackets_narrow_its_epochs(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await four_runs(pilot, app)
        await pilot.press("g")  # the first chart shown
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "chart-train_loss")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        chart = app.screen.chart
        await wait_for(pilot, lambda: len(chart.series) == 4)
        assert chart.metric == "train_loss" and chart.size.height >= 25  # the screen less header and footer
        assert {tuple(x) for _, _, x, _ in chart.drawn()} == {tuple(range(1, 13))}
        assert "epochs 1–12 of 12" in chart._title_line(200).plain  # the range of what it opened with
        await pilot.press(*["right_square_bracket"] * 4, *["left_curly_bracket"] * 3)
        assert chart.epoch_range == (5, 9)
        assert {tuple(x) for _, _, x, _ in chart.drawn()} == {(5, 6, 7, 8, 9)}
        assert "epochs 5–9 of 12" in chart._title_line(200).plain
        await pilot.press("left_square_bracket", "right_curly_bracket")
        assert chart.epoch_range == (4, 10)
        await pilot.press(*["right_square_bracket"] * 20)  # never past the end: one epoch apart at least
        assert chart.epoch_range == (9, 10)
        await pilot.press("0")
        assert chart.epoch_range == (1, 12)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChartScreen))
        assert app.focused is not None and app.focused.id == "chart-train_loss"
