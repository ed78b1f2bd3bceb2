"""The queue screen (`u`): every running, queued, followed and planned run, where it trains, one
progress bar per run and the study's time left (tui.queuerows says how it is estimated).

It reads the console's state through `state()` -> (rows, summary line) twice a second; the rows
scroll at 80×24, and from 120 columns the screen adds each run's state, settings and test accuracy.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.labels import fit
from tui.queuerows import QueueRow, bar
from tui.widgets.runs_table import format_duration

REFRESH_S = 0.5
WIDE = 120
MARK = {"running": "▶ ", "queued": "· ", "planned": "○ "}
NARROW = (("run", "run"), ("where", "where"), ("progress", "progress"), ("left", "left"))
FULL = (("run", "run"), ("state", "state"), ("where", "where"), ("progress", "progress"), ("left", "left"),
        ("per epoch", "epoch_s"), ("trained", "trained"), ("te acc", "test_acc"), ("vs first run", "settings"))
BAR = 10  # cells of each bar at 80 columns; wider, what the other columns leave (up to MAX_BAR)
MAX_BAR = 50
LABEL = 12  # the run column at least


class QueueScreen(Screen):
    BINDINGS = [Binding("escape,u", "app.pop_screen", "Back")]
    HELP = {"app.pop_screen": "on the queue screen: back to the charts (↑↓ there select the run that x and r act on)"}

    def __init__(self, state, select=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.select = select  # select(key): the runs table's cursor follows, so x and r act on this row
        self.wide: bool | None = None
        self._keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="queue-summary")
        yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "queue: where each run trains"
        self.set_interval(REFRESH_S, self.redraw)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.select is not None and event.row_key is not None:
            self.select(event.row_key.value)

    def on_resize(self, event) -> None:
        self.redraw()

    def redraw(self) -> None:
        rows, summary = self.state()
        self.query_one("#queue-summary", Static).update(summary)
        table = self.query_one(DataTable)
        wide = self.size.width >= WIDE
        columns = FULL if wide else NARROW
        if wide != self.wide:
            self.wide, self._keys = wide, []
            table.clear(columns=True)
            for label, key in columns:
                table.add_column(label, key=key)
        cells = self._cells(rows, columns, self.size.width)
        keys = [r.key for r in rows]
        if keys != self._keys:  # runs came or went: rebuild (the cursor keeps its line)
            cursor = table.cursor_row
            table.clear()
            for key, row in zip(keys, cells):
                table.add_row(*row, key=key)
            table.move_cursor(row=min(cursor, max(len(keys) - 1, 0)))
            self._keys = keys
            return
        for key, row in zip(keys, cells):
            for (_, column), old, value in zip(columns, table.get_row(key), row):
                if old != value:
                    table.update_cell(key, column, value, update_width=True)

    def _cells(self, rows: list[QueueRow], columns, width: int) -> list[list]:
        """The rows' cells: the run's name gets the room the others leave, at 200 columns the bar too."""
        wide = columns is FULL
        where = max((len(r.where) for r in rows), default=5)
        others = where + len(" 10/40") + len("1:00:00") + 2 * len(columns) + len(MARK["running"]) + 2  # 2: scrollbar
        if wide:  # the settings come last: they may scroll, the names may not
            others += len("planned") + len("per epoch") + len("trained") + len("te acc") + len("vs first run")
        longest = max((len(r.label) for r in rows), default=LABEL)
        bar_cells = max(BAR, min(MAX_BAR, width - others - longest)) if wide else BAR
        labels = fit([r.label for r in rows], max(LABEL, width - others - bar_cells))
        out = []
        for r, label in zip(rows, labels):
            cells = {"run": Text.assemble((MARK[r.state], f"color({r.colour})" if r.colour is not None else ""), label),
                     "state": r.state, "where": Text(r.where, style="dim" if r.state != "running" else ""),
                     "progress": self._progress(r, bar_cells),
                     "left": "?" if r.left is None else format_duration(r.left),
                     "epoch_s": "?" if r.epoch_s is None else format_duration(r.epoch_s),
                     "trained": format_duration(r.trained) if r.trained else "",
                     "test_acc": "" if r.test_acc is None else f"{r.test_acc:.3f}",
                     "settings": Text(r.settings, style="dim")}
            out.append([cells[key] for _, key in columns])
        return out

    @staticmethod
    def _progress(r: QueueRow, width: int) -> Text:
        done, rest = bar(r.done, width)
        colour = f"color({r.colour})" if r.colour is not None and r.state == "running" else "dim"
        count = f" {r.epoch}/{r.epochs}" if r.epochs else ""
        return Text.assemble((done, colour), (rest, "grey35"), count)
