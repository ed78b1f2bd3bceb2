"""The four metric charts: two by two when there is room, else a page of one or two at a
time, and one key under them (tui.widgets.chartkey)."""
from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid, Vertical

from tui.runview import RunView
from tui.widgets.chartkey import ChartKey
from tui.widgets.charts import CHARTS, MetricChart


class ChartGrid(Vertical):
    """The four charts: two by two when there is room, else a page of one or two at a time
    (`next_page`, the main screen's `v`), and one key row under them."""

    MIN_CHART_WIDTH = 40   # room for the y labels and a few columns per epoch
    MIN_CHART_HEIGHT = 10  # title, 7 rows of curve, x axis, its labels

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.page = 0
        self.per_page = 4

    def compose(self) -> ComposeResult:
        with Grid(id="chart-cells"):
            for metric, title in CHARTS:
                yield MetricChart(metric, title, id=f"chart-{metric}")
        yield ChartKey(self, id="chart-key")

    @property
    def charts(self) -> list[MetricChart]:
        return list(self.query(MetricChart))

    def show(self, views: list[RunView], smoothing: bool, log_y: bool, seeds: bool = False) -> None:
        for chart in self.charts:
            chart.show(views, smoothing, log_y, seeds)

    def shown(self) -> list[MetricChart]:
        return [c for c in self.charts if c.display]

    def key_chart(self) -> MetricChart | None:
        focused = self.screen.focused if self.is_attached else None
        if isinstance(focused, MetricChart) and focused in self.charts:
            return focused
        return self.charts[0] if self.charts else None

    # ---- layout -------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.lay_out(event.size.width, event.size.height)

    def lay_out(self, width: int, height: int) -> None:
        columns = 2 if width >= 2 * self.MIN_CHART_WIDTH + 1 else 1
        rows = 2 if height - 2 >= 2 * self.MIN_CHART_HEIGHT else 1  # 2: the key's rows
        self.per_page = columns * rows
        cells = self.query_one("#chart-cells", Grid)
        cells.styles.grid_size_columns = columns
        cells.styles.grid_size_rows = rows
        self.page = min(self.page, self.pages - 1)
        self._show_page()

    @property
    def pages(self) -> int:
        return len(CHARTS) // self.per_page

    def next_page(self) -> None:
        self.page = (self.page + 1) % self.pages
        self._show_page()

    def _show_page(self) -> None:
        focused = self.screen.focused
        had_focus = isinstance(focused, MetricChart) and focused in self.charts
        first = self.page * self.per_page
        for k, chart in enumerate(self.charts):
            chart.display = first <= k < first + self.per_page
            chart.hint = f"  (v: next, {self.page + 1}/{self.pages})" if self.pages > 1 else ""
            chart.refresh()
        if had_focus and not focused.display:  # the cursor comes along to the chart in view
            target = self.shown()[0]
            target.cursor = focused.cursor
            target.focus()
        self.query_one(ChartKey).refresh()

    # ---- the key follows the charts -----------------------------------------
    def on_metric_chart_changed(self, message: MetricChart.Changed) -> None:
        message.stop()
        self.query_one(ChartKey).refresh(layout=True)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """`g` focuses the first chart, which may be on another page: the page in view instead."""
        if isinstance(event.widget, MetricChart) and not event.widget.display:
            self.shown()[0].focus()
