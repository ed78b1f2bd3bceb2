"""The runs table: one row per run on screen, latest metrics and the best test accuracy."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.runview import PAST_MARK, RunView

# test accuracy first: at 80 columns it is what stays on screen without scrolling; next to
# it, from 120 columns, the settings where a run differs from its experiment's first run
COLUMNS = (("run", "run"), ("status", "status"), ("epoch", "epoch"), ("te acc", "test_acc"),
           ("best (ep)", "best"), ("vs first run", "settings"), ("te loss", "test_loss"),
           ("tr acc", "train_acc"), ("tr loss", "train_loss"), ("time", "time"))
STATUS_STYLE = {"running": "bold", "finished": "green", "stopped": "yellow", "queued": "dim",
                "skipped": "dim", "failed": "red", "diverged": "red", "interrupted": "yellow"}
NAME_WIDTH = 18       # the run column at least (80 columns: run, status, epoch, test acc fit)...
WIDE_NAME_WIDTH = 40  # ...and at most, taking what the other columns leave
DRAWN, HIDDEN = "● ", "○ "


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def shorten(label: str, width: int) -> str:
    """Cut the middle out of a long label: its end (`-2`) is what tells runs apart, and
    `(past)` stays whole."""
    if len(label) <= width:
        return label
    mark = PAST_MARK if label.endswith(PAST_MARK) else ""
    name, room = label[:len(label) - len(mark)], width - len(mark) - 1
    head = room * 2 // 5
    return name[:head] + "…" + name[len(name) - (room - head):] + mark


def swatch(view: RunView) -> tuple[str, str]:
    """● in the run's colour when drawn, ○ when hidden with `d`; nothing before it has a colour."""
    if view.colour is None:
        return "  ", ""
    return (DRAWN if view.overlay else HIDDEN), f"color({view.colour})"


def row(view: RunView, name_width: int = NAME_WIDTH) -> list:
    last = view.last
    best = view.best
    cells = {
        "run": Text.assemble(swatch(view), (shorten(view.label, name_width), "italic" if view.past else "")),
        "status": Text(view.status + (f" ({view.cause})" if view.cause and view.status == "failed" else ""),
                       style=STATUS_STYLE.get(view.status, "")),
        "epoch": f"{len(view.metrics)}/{view.epochs}" if view.epochs else str(len(view.metrics)),
        "best": f"{best[0]:.3f} ({best[1]})" if best else "",
        "time": format_duration(view.time) if view.time else "",
        "settings": Text(view.settings, style="dim"),
    }
    for metric in ("train_loss", "test_loss", "train_acc", "test_acc"):
        cells[metric] = f"{last[metric]:.3f}" if metric in last else ""
    return [cells[key] for _, key in COLUMNS]


class RunsTable(DataTable):
    """Rows keyed by RunView.key."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.name_width = NAME_WIDTH
        self._views: dict[str, RunView] = {}  # the views shown, to redraw them when the width changes

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self, event) -> None:
        self._fit()

    def _fit(self) -> None:
        """Give the run's name the room the other columns leave, the settings column included
        (what differs matters more than the end of a long name)."""
        if not self.columns:
            return
        settings = max((len(v.settings) for v in self._views.values()), default=0)
        others = sum(c.get_render_width(self) for c in self.columns.values() if c.key.value not in ("run", "settings"))
        if settings:
            others += max(settings, len("vs first run")) + 2 * self.cell_padding
        spare = self.size.width - others - 2 * self.cell_padding - len(DRAWN) - 2  # 2: a scrollbar
        width = max(NAME_WIDTH, min(WIDE_NAME_WIDTH, spare))
        if width != self.name_width:
            self.name_width = width
            for view in self._views.values():
                self.show(view)

    def show(self, view: RunView) -> None:
        new = self._views.get(view.key) is None or len(view.settings) > max(
            len(v.settings) for v in self._views.values())
        self._views[view.key] = view
        if new:
            self._fit()
        cells = row(view, self.name_width)
        if view.key in self.rows:  # only changed cells: the timer calls this several times a second
            for (_, column), old, value in zip(COLUMNS, self.get_row(view.key), cells):
                if old != value:
                    self.update_cell(view.key, column, value, update_width=True)
        else:
            self.add_row(*cells, key=view.key)

    def drop(self, key: str) -> None:
        self._views.pop(key, None)
        if key in self.rows:
            self.remove_row(key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
