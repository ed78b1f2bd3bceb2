"""The charts as drawn: axes, the key outside the plot, the cursor, the epoch in progress,
and the layout at 80×24, 120×40 and below 80×24.

The rendered chart is read back as a grid of (character, colour) cells, the way a user
reads the screen: where each run's braille dots are, which row each y label is on.
"""
from __future__ import annotations

import math
import random
import re

import pytest
from rich.console import Console

from apphelp import craft_run, make_app, open_past, ready, sync, wait_for
from tui.widgets.axes import decimals, drawn_row, x_ticks, y_axis
from tui.widgets.chartgrid import ChartGrid
from tui.widgets.chartkey import ChartKey
from tui.widgets.charts import CHARTS, CURSOR_COLOUR, LIVE_MARKER, MetricChart

BRAILLE = re.compile("[\u2801-\u28ff]")
LABEL = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$")


# ---- the axis arithmetic ------------------------------------------------------
def is_round_step(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(mantissa, m) for m in (1, 2, 5))


@pytest.mark.parametrize("seed", range(40))
def test_linear_ticks_bracket_the_data_at_even_round_steps(seed):
    rng = random.Random(seed)
    lo = rng.uniform(0, 3)
    values = [lo + rng.uniform(0, rng.choice([0.001, 0.05, 1, 3])) for _ in range(rng.randint(1, 30))]
    rows = rng.randint(3, 40)
    axis = y_axis(values, rows, min_span=0.02)
    steps = [b - a for a, b in zip(axis.ticks, axis.ticks[1:])]
    assert axis.ticks[0] <= min(values) and axis.ticks[-1] >= max(values)
    assert all(math.isclose(s, steps[0]) for s in steps)
    assert is_round_step(steps[0])
    grid = [q for q in (steps[0], steps[0] / 2)  # ticks on multiples of the step or its half
            if all(math.isclose(t / q, round(t / q), abs_tol=1e-6) for t in axis.ticks)]
    assert grid and is_round_step(grid[0])
    assert 2 <= len(axis.ticks) <= min(6, rows + 1)
    tick_rows = [drawn_row(t, axis, rows) for t in axis.ticks]  # a whole number of rows apart
    assert len({b - a for a, b in zip(tick_rows, tick_rows[1:])}) == 1 and tick_rows[0] >= 0
    assert tick_rows[-1] <= rows - 1
    assert axis.lo <= axis.ticks[0] and axis.hi >= axis.ticks[-1]
    assert all(float(label) == pytest.approx(t) for label, t in zip(axis.labels, axis.ticks))
    assert len({len(label) for label in axis.labels}) == 1 or any(t >= 10 for t in axis.ticks)


@pytest.mark.parametrize("rows", range(5, 40))
def test_tick_rows_are_evenly_spaced_and_the_data_fills_at_least_half_the_plot(rows):
    axis = y_axis([0.55, 2.3], rows, min_span=0.1)
    tick_rows = [drawn_row(t, axis, rows) for t in axis.ticks]
    assert len({b - a for a, b in zip(tick_rows, tick_rows[1:])}) == 1 and len(tick_rows) >= 3
    assert min(b - a for a, b in zip(tick_rows, tick_rows[1:])) >= 2
    low, high = drawn_row(0.55, axis, rows), drawn_row(2.3, axis, rows)
    assert tick_rows[0] <= low and high <= tick_rows[-1]
    assert high - low + 1 >= rows / 2


def test_a_flat_loss_gets_a_span_of_a_tenth_of_its_value_so_noise_stays_flat():
    axis = y_axis([2.3009, 2.2997, 2.3003], rows=9, min_span=0.23)
    assert axis.ticks[-1] - axis.ticks[0] >= 0.23
    assert axis.labels[0] != axis.labels[-1] and all(len(label) <= 4 for label in axis.labels)  # no 2.3009


def test_a_flat_accuracy_spans_at_least_two_points_and_stays_within_0_and_1():
    high = y_axis([0.995, 0.996], rows=9, min_span=0.02, floor=0.0, ceiling=1.0)
    assert high.ticks[-1] <= 1.0 and high.ticks[-1] - high.ticks[0] >= 0.02
    low = y_axis([0.001, 0.002], rows=9, min_span=0.02, floor=0.0, ceiling=1.0)
    assert low.ticks[0] >= 0.0 and low.ticks[-1] - low.ticks[0] >= 0.02


def test_log_ticks_are_1_2_5_values_that_bracket_the_data():
    axis = y_axis([0.03, 0.9, 2.31], rows=12, min_span=0.1, log=True)
    assert axis.log and axis.ticks[0] <= 0.03 and axis.ticks[-1] >= 2.31
    assert all(is_round_step(t) for t in axis.ticks) and len(axis.ticks) <= 6
    assert axis.lo == pytest.approx(math.log10(axis.ticks[0]), abs=0.2)


def test_x_ticks_are_whole_epochs_from_1():
    assert x_ticks(8, 60) == list(range(1, 9))
    many = x_ticks(40, 40)
    assert many[0] in (1, 2) and many[-1] <= 40 and all(isinstance(t, int) for t in many)
    assert len(set(b - a for a, b in zip(many[1:], many[2:]))) <= 1  # evenly spaced after the first
    assert decimals(0.05) == 2 and decimals(5) == 0


# ---- reading a rendered chart -------------------------------------------------
class Drawn:
    """A chart's render as cells: rows top to bottom, each a list of (char, colour number)."""

    def __init__(self, chart: MetricChart):
        console = Console(width=chart.size.width, color_system="256", force_terminal=True)
        self.rows = []
        for line in chart.render().split("\n", allow_blank=True):  # a blank last row is a row too
            cells = []
            for segment in line.render(console):
                colour = segment.style.color.number if segment.style and segment.style.color else None
                cells += [(ch, colour) for ch in segment.text]
            self.rows.append(cells)
        self.text = ["".join(ch for ch, _ in row) for row in self.rows]
        self.axis_row = next(i for i, t in enumerate(self.text) if "└" in t)  # the x axis
        self.axis_col = self.text[self.axis_row].index("└")
        self.canvas = range(1, self.axis_row)  # under the title row, over the x axis

    def labels(self) -> list[tuple[int, float]]:
        """(row index, value) of each y tick label."""
        found = []
        for i in self.canvas:
            match = LABEL.match(self.text[i][:self.axis_col])
            if match and self.text[i][self.axis_col] == "┤":
                found.append((i, float(match.group(1))))
        return found

    def cells(self, colour: int, chars=BRAILLE) -> list[tuple[int, int]]:
        """(row, column) of every cell drawn in `colour` with a character matching `chars`."""
        return [(i, j) for i, row in enumerate(self.rows) for j, (ch, c) in enumerate(row)
                if c == colour and chars.match(ch)]

    def value_at_row(self, row: int) -> float:
        """The value a reader gives a row, going by the labels above and below it."""
        (r0, v0), (r1, v1) = self.labels()[-1], self.labels()[0]  # bottom, top
        return v0 + (r0 - row) * (v1 - v0) / (r0 - r1)

    def row_value_step(self) -> float:
        (r0, v0), (r1, v1) = self.labels()[-1], self.labels()[0]
        return abs(v1 - v0) / (r0 - r1)


def epochs(n, f):
    return [dict(epoch=e, train_loss=f(e), test_loss=f(e) + 0.1, train_acc=0.9 - f(e) / 3,
                 test_acc=0.8 - f(e) / 3) for e in range(1, n + 1)]


# curves that never cross, so each is in sight wherever nothing is drawn over it
FOUR = (("baseline", epochs(8, lambda e: 2.1 - 0.12 * e)),
        ("flat", epochs(8, lambda e: 2.3009 if e % 2 else 2.2997)),
        ("augmentation+normalization", epochs(8, lambda e: 1.5 - 0.1 * e)),
        ("dropout", epochs(5, lambda e: 1.0 - 0.05 * e)))


async def with_views(pilot, app, runs=FOUR):
    await wait_for(pilot, lambda: ready(app))
    views = [app.views.add(name, "study", metrics=metrics, status="finished", epochs=8) for name, metrics in runs]
    for view in views:
        app.table.show(view)
    app.model.mark_charts()
    chart = chart_of(app, "train_loss")
    await wait_for(pilot, lambda: len(chart.series) == len(runs))
    return views


def chart_of(app, metric) -> MetricChart:
    return app.get_screen_main().query_one(f"#chart-{metric}", MetricChart)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
@sync
async def test_four_runs_one_flat_all_drawn_inside_the_plot_and_none_under_the_key(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        views = await with_views(pilot, app)
        for metric, _ in CHARTS:
            chart = chart_of(app, metric)
            if not chart.display:
                continue
            drawn = Drawn(chart)
            assert len(drawn.rows) == chart.size.height and chart.title in drawn.text[0]
            for view in views:
                cells = drawn.cells(view.colour)
                assert cells, f"{view.label} not drawn in {metric}"
                assert all(i in drawn.canvas and j > drawn.axis_col for i, j in cells)
                columns = {j for _, j in cells}
                if view.label != "dropout":  # 8 epochs: across the whole plot
                    width = len(drawn.text[drawn.axis_row]) - drawn.axis_col - 1
                    assert len(columns) >= 0.6 * width, f"{view.label} hidden in {metric}"
            values = [y for view in views for y in view.series(metric)[1]]
            ticks = [v for _, v in drawn.labels()]
            assert min(ticks) <= min(values) and max(ticks) >= max(values)
            gaps = {round(b - a, 9) for a, b in zip(ticks[1:], ticks)}
            assert len(gaps) == 1
        key = app.get_screen_main().query_one(ChartKey)
        text = str(key.render())
        assert all(view.label in text for view in views)
        grid = app.get_screen_main().query_one(ChartGrid)
        for chart in grid.shown():
            assert key.region.y >= chart.region.bottom  # the key is under the charts, not on them
        assert all(chart.region.height >= 10 for chart in grid.shown())


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
@sync
async def test_a_single_point_lands_on_the_row_of_its_value(tmp_path, size):
    rng = random.Random(size[0])
    values = [2.304, 0.97, 1.5, 0.1234, 0.655, 2.3009] + [rng.uniform(0.01, 3) for _ in range(30)]
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        (view,) = await with_views(pilot, app, [("one", [dict(epoch=1, train_loss=1.0)])])
        chart = chart_of(app, "train_loss")
        for value in values:
            view.metrics = [dict(epoch=1, train_loss=value)]
            chart.show([view], False, False)  # as the app's chart timer does
            drawn = Drawn(chart)
            (row,) = {i for i, _ in drawn.cells(view.colour)}
            assert abs(drawn.value_at_row(row) - value) <= drawn.row_value_step() / 2 + 1e-9, value
            labels = drawn.labels()
            assert labels[-1][1] <= value <= labels[0][1]  # bracketed


@sync
async def test_a_point_on_a_tick_value_is_on_that_tick_label_row(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = [("a", [dict(epoch=1, train_loss=0.5), dict(epoch=2, train_loss=1.0),
                       dict(epoch=3, train_loss=1.5), dict(epoch=4, train_loss=2.0)])]
        (view,) = await with_views(pilot, app, runs)
        drawn = Drawn(chart_of(app, "train_loss"))
        rows_of = dict((v, r) for r, v in drawn.labels())
        cells = drawn.cells(view.colour)
        first, last = min(j for _, j in cells), max(j for _, j in cells)
        assert rows_of[0.5] in {i for i, j in cells if j == first}
        assert rows_of[2.0] in {i for i, j in cells if j == last}


@sync
async def test_log_y_still_draws_every_run_inside_the_plot(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        views = await with_views(pilot, app)
        await pilot.press("l")
        chart = chart_of(app, "test_loss")
        await wait_for(pilot, lambda: chart.log_y)
        drawn = Drawn(chart)
        for view in views:
            cells = drawn.cells(view.colour)
            assert cells and all(i in drawn.canvas for i, _ in cells)
        ticks = [v for _, v in drawn.labels()]
        assert ticks and all(is_round_step(t) for t in ticks)
        assert min(ticks) <= min(m["test_loss"] for v in views for m in v.metrics)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@sync
async def test_on_a_log_axis_a_point_lies_between_the_labels_that_bracket_its_value(tmp_path, size):
    """Read as a user reads it: a point of a 1-2-5 value sits on that label's row; any other value
    lies between the rows of the labels just above and below it (never outside them)."""
    rng = random.Random(size[0])
    values = [0.5, 1.0, 2.0, 0.2, 0.05, 2.303, 0.97, 0.123] + [10 ** rng.uniform(-2.5, 0.5) for _ in range(30)]
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        (view,) = await with_views(pilot, app, [("one", [dict(epoch=1, train_loss=1.0)])])
        chart = chart_of(app, "train_loss")
        for value in values:
            view.metrics = [dict(epoch=1, train_loss=value)]
            chart.show([view], False, True)
            drawn = Drawn(chart)
            (row,) = {i for i, _ in drawn.cells(view.colour)}
            assert reads_as(drawn, row, value), (value, drawn.labels(), row)


def reads_as(drawn, row: int, value: float) -> bool:
    """Whether a reader, going by the y labels, can put `value` on `row`: the row of a label of that
    value, else a row between the labels just above and below it."""
    labels = drawn.labels()  # top to bottom: values falling
    over = [(v, r) for r, v in labels if v >= value * (1 - 1e-9)]
    under = [(v, r) for r, v in labels if v <= value * (1 + 1e-9)]
    if not (over and under):
        return False  # not bracketed
    above, below = min(over), max(under)  # (value, row) of the nearest label each way
    if math.isclose(above[0], value) or math.isclose(below[0], value):
        return row == (above if math.isclose(above[0], value) else below)[1]
    return above[1] <= row <= below[1]


def epoch_columns(drawn) -> dict:
    """Epoch -> the column of its x tick (┬), going by the labels under the axis."""
    ticks = drawn.text[drawn.axis_row]
    labels = drawn.text[drawn.axis_row + 1]
    return {int(m.group()): m.end() - 1 for m in re.finditer(r"\d+", labels) if ticks[m.end() - 1] == "┬"}


# ---- the cursor -----------------------------------------------------------------
@sync
async def test_the_cursor_moves_by_epoch_and_reads_each_runs_value(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        views = await with_views(pilot, app)
        await pilot.press("g")
        chart = chart_of(app, "train_loss")
        await wait_for(pilot, lambda: chart.has_focus)
        key = app.get_screen_main().query_one(ChartKey)
        assert "read values" in str(key.render())
        await pilot.press("right")  # the cursor comes up on the last epoch
        assert chart.cursor == 8
        await pilot.press("left", "left")
        assert chart.cursor == 6
        text = " ".join(str(key.render()).split())
        assert "train loss, epoch 6" in text  # four charts in view: it names the one read
        for view in views:
            x, y = view.series("train_loss")
            expected = f"{y[x.index(6)]:.3f}" if 6 in x else "–"
            assert f"{view.label} {expected}" in text
        drawn = Drawn(chart)
        cursor_columns = {j for _, j in drawn.cells(CURSOR_COLOUR)}
        assert len(cursor_columns) == 1
        await pilot.press("home")
        first = {j for _, j in Drawn(chart).cells(CURSOR_COLOUR)}
        await pilot.press("end")
        last = {j for _, j in Drawn(chart).cells(CURSOR_COLOUR)}
        assert min(first) < min(cursor_columns) < min(last)
        assert min(first) == drawn.axis_col + 1
        await pilot.click(chart, offset=(drawn.axis_col + 1, 3))  # a click at the left edge: epoch 1
        assert chart.cursor == 1 and "epoch 1:" in str(key.render())
        await pilot.press("t")  # focus elsewhere: no cursor, the key again
        await wait_for(pilot, lambda: not chart.has_focus)
        assert not Drawn(chart).cells(CURSOR_COLOUR)
        assert "epoch" not in str(key.render())


# ---- the epoch in progress --------------------------------------------------------
@sync
async def test_the_epoch_in_progress_is_drawn_and_replaced_by_the_epochs_value(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        views = await with_views(pilot, app)
        running = views[3]  # 5 epochs finished
        running.live = (6, 1.1)
        app.model.mark_charts()
        chart = chart_of(app, "train_loss")
        await wait_for(pilot, lambda: chart.live)
        drawn = Drawn(chart)
        dots = drawn.cells(running.colour, re.compile(re.escape(LIVE_MARKER)))
        assert dots
        last_braille = max(j for _, j in drawn.cells(running.colour))
        end = max(dots, key=lambda cell: cell[1])
        assert end[1] > last_braille  # towards the epoch in progress
        assert abs(drawn.value_at_row(end[0]) - 1.1) <= drawn.row_value_step() / 2 + 1e-9  # at its value
        assert chart.last_epoch == 8
        assert not Drawn(chart_of(app, "test_loss")).cells(running.colour, re.compile(re.escape(LIVE_MARKER)))
        await pilot.press("g", "right", "left", "left")  # the cursor on epoch 6 reads the running value
        assert "dropout 1.100 so far" in " ".join(str(app.get_screen_main().query_one(ChartKey).render()).split())
        running.metrics.append(dict(epoch=6, train_loss=1.2, test_loss=1.3, train_acc=0.5, test_acc=0.4))
        running.live = None
        app.model.mark_charts()
        await wait_for(pilot, lambda: not chart.live)
        assert not Drawn(chart).cells(running.colour, re.compile(re.escape(LIVE_MARKER)))


# ---- layout ---------------------------------------------------------------------
@sync
async def test_at_80x24_one_chart_at_a_time_and_v_cycles_them(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await with_views(pilot, app)
        grid = app.get_screen_main().query_one(ChartGrid)
        shown = [c.metric for c in grid.shown()]
        assert shown == ["train_loss"]
        seen = []
        for _ in range(4):
            await pilot.press("v")
            await pilot.pause()
            seen.append([c.metric for c in grid.shown()])
        assert seen == [["test_loss"], ["train_acc"], ["test_acc"], ["train_loss"]]
        chart = grid.shown()[0]
        assert chart.region.height >= 10 and "v: next" in Drawn(chart).text[0]
        await pilot.press("g")  # focus lands on the chart in view
        await wait_for(pilot, lambda: app.focused is chart)
        await pilot.press("right", "left", "v")  # the cursor (epoch 7) comes along to the next chart
        await wait_for(pilot, lambda: app.focused is chart_of(app, "test_loss"))
        assert app.focused.cursor == 7
        assert "epoch 7:" in str(app.get_screen_main().query_one(ChartKey).render())


@sync
async def test_wide_terminals_show_all_four_charts(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await with_views(pilot, app)
        grid = app.get_screen_main().query_one(ChartGrid)
        assert [c.metric for c in grid.shown()] == [m for m, _ in CHARTS]
        assert all(c.region.height >= 10 for c in grid.shown())
        await pilot.press("v")  # nothing to cycle
        assert len(grid.shown()) == 4


@sync
async def test_below_80x24_one_line_asks_for_a_larger_terminal(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(70, 20)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        screen = app.get_screen_main()
        note = screen.query_one("#too-small")
        await wait_for(pilot, lambda: note.display and note.region.height == 1)
        assert "70×20" in str(note.render()) and "80×24" in str(note.render())
        assert not screen.query_one("#body").display
        await pilot.resize_terminal(80, 24)  # a larger terminal: the console again
        await wait_for(pilot, lambda: screen.query_one("#body").display and not note.display)


@sync
async def test_the_compare_chart_has_its_key_under_the_plot(tmp_path):
    from tui.screens.compare import CompareScreen

    # run records on disk: the screen rereads them every second and draws what it read
    paths = [craft_run(tmp_path / "runs", "study", name, [m["train_loss"] for m in metrics])
             for name, metrics in FOUR]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        views = open_past(app, paths)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        chart = app.screen.query_one(MetricChart)
        # laid out, and drawn with all four runs (a chart without its size draws no axes)
        await wait_for(pilot, lambda: len(chart.series) == len(views) and chart.size.height > 0
                       and any("└" in line.plain for line in chart.render().split("\n")))
        drawn = Drawn(chart)
        assert len(drawn.rows) == chart.size.height  # all on screen, nothing cut off
        under = "\n".join(drawn.text[drawn.axis_row + 2:])
        assert all(view.label in under for view in views)
        for view in views:
            assert all(i in drawn.canvas for i, _ in drawn.cells(view.colour, BRAILLE))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@sync
async def test_the_overfitting_marker_sits_on_its_curve(tmp_path, size):
    app = make_app(tmp_path)
    rng = random.Random(1)
    shape = [2.0, 1.6, 1.3, 1.1, 1.0, 1.05, 1.15, 1.3]  # lowest at epoch 5, risen since
    async with app.run_test(size=size) as pilot:
        (view,) = await with_views(pilot, app, [("overfit", [dict(epoch=1, test_loss=1.0)])])
        await pilot.press("v")  # the test-loss chart in view at 80x24
        chart = chart_of(app, "test_loss")
        for _ in range(20):
            scale, shift = rng.uniform(0.2, 1.5), rng.uniform(0, 1)
            losses = [shift + scale * v for v in shape][:rng.randint(6, 8)]
            view.metrics = [dict(epoch=e, test_loss=v) for e, v in enumerate(losses, 1)]
            chart.show([view], False, False)
            drawn = Drawn(chart)
            ((row, column),) = drawn.cells(view.colour, re.compile("◆"))
            beside = {i for i, j in drawn.cells(view.colour) if abs(j - column) <= 1}
            assert row in beside
            assert abs(drawn.value_at_row(row) - losses[4]) <= drawn.row_value_step() / 2 + 1e-9


@sync
async def test_values_no_axis_can_show_are_left_out_not_a_crash(tmp_path):
    app = make_app(tmp_path)
    rows = [dict(epoch=1, train_loss=2.3, train_acc=0.0), dict(epoch=2, train_loss=float("nan"), train_acc=0.1),
            dict(epoch=3, train_loss=1.9, train_acc=0.2)]
    async with app.run_test(size=(120, 40)) as pilot:
        (view,) = await with_views(pilot, app, [("diverged", rows)])
        await pilot.press("l")  # log y: acc 0.0 has no place there
        await wait_for(pilot, lambda: chart_of(app, "train_acc").log_y)
        for metric, shown in (("train_loss", {1: 2.3, 3: 1.9}), ("train_acc", {2: 0.1, 3: 0.2})):
            drawn = Drawn(chart_of(app, metric))
            cells, columns = drawn.cells(view.colour), epoch_columns(drawn)
            assert {j for _, j in cells} <= set(range(columns[min(shown)], columns[3] + 1)), metric  # 0.0: not drawn
            for epoch, value in shown.items():  # the points it can show, where a reader looks for them
                rows = {i for i, j in cells if j == columns[epoch]}
                assert rows and any(reads_as(drawn, row, value) for row in rows), (metric, epoch, rows)
            ends = [{i for i, j in cells if j == columns[epoch]} for epoch in shown]
            top, bottom = min(min(e) for e in ends), max(max(e) for e in ends)
            assert all(top <= i <= bottom for i, _ in cells), metric  # no stray point for NaN or 0.0
