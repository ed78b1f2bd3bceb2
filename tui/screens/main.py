"""The main screen: side panel | charts over progress, runs table and log."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog

from core.presets import Preset
from tui.widgets.charts import ChartGrid
from tui.widgets.progress import EpochProgress
from tui.widgets.runs_table import RunsTable
from tui.widgets.side_panel import SidePanel


WIDE, TALL, SHORT = 140, 40, 30


class MainScreen(Screen):
    AUTO_FOCUS = "#presets"

    def __init__(self, presets: list[Preset], initial: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.presets, self.initial = presets, initial

    def compose(self) -> ComposeResult:
        yield Header()
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
        self.set_class(event.size.width >= WIDE, "-wide")
        self.set_class(event.size.width < WIDE, "-narrow")
        self.set_class(event.size.height >= TALL, "-tall")
        self.set_class(event.size.height < SHORT, "-short")
        self.query_one(Footer).compact = event.size.width < WIDE  # so `q Quit` still fits at 80
