"""The runs table: one row per run on screen, latest metrics and the best test accuracy."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.runview import RunView

# test accuracy first: at 80 columns it is what stays on screen without scrolling
COLUMNS = (("run", "run"), ("status", "status"), ("epoch", "epoch"), ("te acc", "test_acc"),
           ("best (ep)", "best"), ("te loss", "test_loss"), ("tr acc", "train_acc"),
           ("tr loss", "train_loss"), ("time", "time"))
STATUS_STYLE = {"running": "bold", "finished": "green", "stopped": "yellow", "queued": "dim",
                "skipped": "dim", "failed": "red", "diverged": "red", "interrupted": "yellow"}
NAME_WIDTH = 16


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def row(view: RunView, live_seconds: float = 0.0) -> list:
    last = view.last
    best = view.best
    name = view.name if len(view.name) <= NAME_WIDTH else view.name[:NAME_WIDTH - 1] + "…"
    cells = {
        "run": Text.assemble(("● ", f"color({view.colour})"), (name, "italic" if view.past else "")),
        "status": Text(view.status + (f" ({view.cause})" if view.cause and view.status == "failed" else ""),
                       style=STATUS_STYLE.get(view.status, "")),
        "epoch": f"{len(view.metrics)}/{view.epochs}" if view.epochs else str(len(view.metrics)),
        "best": f"{best[0]:.3f} ({best[1]})" if best else "",
        "time": format_duration(view.seconds + live_seconds) if view.metrics or live_seconds else "",
    }
    for metric in ("train_loss", "test_loss", "train_acc", "test_acc"):
        cells[metric] = f"{last[metric]:.3f}" if metric in last else ""
    return [cells[key] for _, key in COLUMNS]


class RunsTable(DataTable):
    """Rows keyed by RunView.key."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def show(self, view: RunView, live_seconds: float = 0.0) -> None:
        cells = row(view, live_seconds)
        if view.key in self.rows:  # only changed cells: the timer calls this several times a second
            for (_, column), old, value in zip(COLUMNS, self.get_row(view.key), cells):
                if old != value:
                    self.update_cell(view.key, column, value, update_width=True)
        else:
            self.add_row(*cells, key=view.key)

    def drop(self, key: str) -> None:
        if key in self.rows:
            self.remove_row(key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
