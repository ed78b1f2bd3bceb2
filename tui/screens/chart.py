"""One chart on the whole screen (`enter` on a focused chart); `escape` returns to the console.

It redraws from `data()` -> (runs drawn, smoothing, log y, each seed), the console's own view of
what the charts draw (the `/` filter included), whenever that changes."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.widgets.fullchart import RangedChart

REFRESH_S = 0.3


class ChartScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, metric: str, title: str, data, cursor: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric, self.chart_title, self.data, self.cursor = metric, title, data, cursor
        self._drawn = None  # what was drawn last, to redraw only on a change

    @property
    def chart(self) -> RangedChart:
        return self.query_one(RangedChart)

    def compose(self) -> ComposeResult:
        yield Header()
        yield RangedChart(self.metric, self.chart_title, id="full-chart")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.chart_title
        self.chart.cursor = self.cursor
        self.chart.focus()
        self.redraw()
        self.set_interval(REFRESH_S, self.redraw)

    def redraw(self) -> None:
        views, *flags = self.data()
        seen = (tuple((v.key, len(v.metrics), v.live, v.colour) for v in views), tuple(flags))
        if seen != self._drawn:
            self._drawn = seen
            self.chart.show(views, *flags)
