"""The main screen: side panel | charts over progress, runs table and log.

Sized for 80×24 first: there the charts show one at a time (`v` cycles); wider and
taller terminals get two or four at once (ChartGrid decides from its own size).
Below 80×24 one line asks for a larger terminal instead of a broken layout.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog, Static

from core.presets import Preset
from tui.widgets.chartgrid import ChartGrid
from tui.widgets.charts import MetricChart
from tui.widgets.progress import EpochProgress
from tui.widgets.runs_table import RunsTable
from tui.widgets.side_panel import SidePanel


WIDE, TALL, SHORT = 140, 40, 30
MIN_WIDTH, MIN_HEIGHT = 80, 24


class MainScreen(Screen):
    AUTO_FOCUS = "#presets"
    BINDINGS = [Binding("v", "next_charts", "Next chart", show=False),
                Binding("enter", "full_chart", "Full screen", show=False)]
    HELP = {"next_charts": "the next chart, where they show one or two at a time (80×24)",
            "full_chart": "on a focused chart (g): that chart on the whole screen; [ ] and { } narrow its "
                          "epochs, escape returns"}

    def __init__(self, presets: list[Preset], initial: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.presets, self.initial = presets, initial
        self._focus_before_tiny = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="too-small")
        with Horizontal(id="body"):
            yield SidePanel(self.presets, self.initial, id="side")
            with Vertical(id="main"):
                yield ChartGrid(id="charts")
                yield EpochProgress(id="progress")
                with Horizontal(id="bottom"):
                    yield RunsTable(id="runs")
                    yield RichLog(id="log", wrap=True, markup=True, min_width=20)
        yield Footer()

    def on_resize(self, event) -> None:
        """Wide terminals get the log beside the table, tall ones a taller table."""
        width, height = event.size
        self.set_class(width >= WIDE, "-wide")
        self.set_class(width < WIDE, "-narrow")
        self.set_class(height >= TALL, "-tall")
        self.set_class(height < SHORT, "-short")
        self.query_one(Footer).compact = width < WIDE  # so `q Quit` still fits at 80
        self._too_small(width < MIN_WIDTH or height < MIN_HEIGHT, width, height)

    def _too_small(self, tiny: bool, width: int, height: int) -> None:
        """One line instead of the layout; keys typed meanwhile reach no hidden field."""
        if tiny:
            self.query_one("#too-small", Static).update(
                f"Enlarge the terminal to {MIN_WIDTH}×{MIN_HEIGHT} or more (it is {width}×{height}); q quits.")
            if not self.has_class("-tiny"):
                self._focus_before_tiny = self.focused
                self.set_focus(None)
        elif self.has_class("-tiny"):
            if self._focus_before_tiny is not None and self._focus_before_tiny.is_attached:
                self.set_focus(self._focus_before_tiny)
            self._focus_before_tiny = None
        self.set_class(tiny, "-tiny")

    def action_next_charts(self) -> None:
        self.query_one(ChartGrid).next_page()

    def action_full_chart(self) -> None:
        self.app.many.open_chart(self.focused)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "full_chart":
            return isinstance(self.focused, MetricChart)
        if action == "next_charts":
            grid = self.query_one(ChartGrid)
            return grid.pages > 1
        return True
