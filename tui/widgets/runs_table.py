"""The runs table: one row per run on screen, latest metrics and the best test accuracy."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.labels import fit
from tui.runview import RunView
from tui.tableshape import GROUP_PREFIX, RUN, Entry

# test accuracy first: at 80 columns it is what stays on screen without scrolling; next to
# it, from 120 columns, the settings where a run differs from its experiment's first run; the
# run's name takes the room those leave (the columns after them scroll)
COLUMNS = (("run", "run"), ("status", "status"), ("epoch", "epoch"), ("te acc", "test_acc"),
           ("best (ep)", "best"), ("vs first run", "settings"), ("te loss", "test_loss"),
           ("tr acc", "train_acc"), ("tr loss", "train_loss"), ("time", "time"))
STATUS_STYLE = {"running": "bold", "finished": "green", "stopped": "yellow", "queued": "dim",
                "skipped": "dim", "failed": "red", "diverged": "red", "interrupted": "yellow"}
NAME_WIDTH = 18  # the run column at least (80 columns: run, status, epoch, test acc fit); wider: what
                 # the other columns leave, up to the longest label
DRAWN, HIDDEN = "● ", "○ "


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def swatch(view: RunView) -> tuple[str, str]:
    """● in the run's colour when drawn, ○ when hidden with `d`; nothing before it has a colour."""
    if view.colour is None:
        return "  ", ""
    return (DRAWN if view.overlay else HIDDEN), f"color({view.colour})"


def row(view: RunView, label: str | None = None) -> list:
    """The row's cells; `label`: the run's label as fitted to the column (tui.labels.fit)."""
    last = view.last
    best = view.best
    cells = {
        "run": Text.assemble(swatch(view), (view.label if label is None else label, "italic" if view.past else "")),
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
        self._labels: dict[str, str] = {}     # key -> the label as fitted to the run column
        self._raw: tuple = ()                 # (width, labels) that _labels were fitted from
        # which rows, in which order (tui.tableshape.arrange over the views): None shows every run
        self.shaper = None
        self._lines: list = []                # the entries shown, as the shaper last gave them

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self, event) -> None:
        self._fit()

    def _fit(self) -> None:
        """Give the run's name the room that the columns up to the settings leave (what differs
        matters more than the end of a long name; the columns after it may scroll)."""
        if not self.columns:
            return
        settings = max((len(v.settings) for v in self._views.values()), default=0)
        keys = [key for _, key in COLUMNS]
        before = keys[1:keys.index("settings")]
        others = sum(c.get_render_width(self) for c in self.columns.values() if c.key.value in before)
        if settings:
            others += max(settings, len("vs first run")) + 2 * self.cell_padding
        spare = self.size.width - others - 2 * self.cell_padding - len(DRAWN) - 2  # 2: a scrollbar
        longest = max((len(v.label) for v in self._views.values()), default=0)
        width = max(NAME_WIDTH, min(longest, spare))
        if width != self.name_width:
            self.name_width = width
            self._refit()

    def _refit(self) -> set:
        """Fit every label to the run column, together (no two read the same); redraw the rows
        whose fitted label changed and return their keys."""
        raw = (self.name_width, tuple((key, v.label) for key, v in self._views.items()))
        if raw == self._raw:
            return set()
        self._raw = raw
        views = list(self._views.values())
        labels = dict(zip((v.key for v in views), fit([v.label for v in views], self.name_width)))
        changed = {key for key, label in labels.items() if self._labels.get(key) != label}
        self._labels = labels
        for view in views:
            if view.key in changed:
                self._put(view)
        return changed

    def show(self, view: RunView) -> None:
        new = self._views.get(view.key) is None or len(view.settings) > max(
            len(v.settings) for v in self._views.values())
        self._views[view.key] = view
        if new or len(view.label) > self.name_width:
            self._fit()
        if view.key not in self._refit():
            self._put(view)
        if self.shaper is not None and self.shaper(list(self._views.values())) != self._lines:
            self.reshape()

    def _put(self, view: RunView) -> None:
        cells = row(view, self._labels.get(view.key))
        if view.key in self.rows:  # only changed cells: the timer calls this several times a second
            for (_, column), old, value in zip(COLUMNS, self.get_row(view.key), cells):
                if old != value:
                    self.update_cell(view.key, column, value, update_width=True)
        elif self.shaper is None:
            self.add_row(*cells, key=view.key)

    def reshape(self) -> None:
        """Rebuild the rows as the shaper says (filtered, grouped, folded); the cursor stays on its run."""
        selected = self.selected_key
        self._lines = self.shaper(list(self._views.values())) if self.shaper else [
            Entry(RUN, key) for key in self._views]
        self.clear()
        for line in self._lines:
            if line.kind == RUN:
                self.add_row(*row(self._views[line.key], self._labels.get(line.key)), key=line.key)
            else:
                style = "bold" if line.kind == "group" else "dim italic"
                title = Text(line.text, style=style)
                title.truncate(self.name_width + len(DRAWN), overflow="ellipsis")  # the run column keeps its width
                self.add_row(title, Text(line.detail, style="dim"), *[""] * (len(COLUMNS) - 2), key=line.key)
        if selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))
        if self.shaper is None:
            self._lines = []

    def drop(self, key: str) -> None:
        self._views.pop(key, None)
        if key in self.rows:
            self.remove_row(key)
        self._refit()
        if self.shaper is not None:
            self.reshape()

    @property
    def settled(self) -> bool:
        """Every changed cell is measured: a DataTable widens its columns when it is next idle."""
        return not self._updated_cells and not self._require_update_dimensions

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return None if key.startswith(GROUP_PREFIX) else key  # a group's or fold's line: no run

