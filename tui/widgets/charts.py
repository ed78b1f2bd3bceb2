"""One metric's chart: every run on screen overlaid, one fixed colour per run (the grid of
four is tui.widgets.chartgrid, the key under it tui.widgets.chartkey).

plotext draws its legend inside the plot, over the curves, so the charts draw no
legend there: a key row of `● label` items sits under them (one row shared by the
grid, since a run has the same colour in every chart). Axes come from tui.widgets.axes:
round ticks that bracket the data, each tick on its own row.

The focused chart has a cursor (←/→ by epoch): a vertical line, and the key row turns
into a readout of each run's value at that epoch. The train-loss chart also draws the
epoch in progress (RunView.live) as a dotted segment from the last finished epoch to
the running loss; the epoch's own value replaces it. The test-loss chart marks each
run's overfitting onset (core.curves: the epoch of its lowest test loss) where test
loss has risen since.

A group of seeds (tui.groupview) is one curve, its mean, with its min–max spread as a
fainter pair of lines in its colour; its key item reads `baseline (n=3)` and, under the
cursor, the mean. The app's `e` draws each seed on its own instead.
"""
from __future__ import annotations

import math

from rich.color import Color
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual_plotext import PlotextPlot

from core.curves import overfit_onset, smooth
from tui.groupview import curves
from tui.runview import PALETTE, RunView
from tui.widgets.axes import label_positions, on_column, on_row, x_ticks, y_axis
from tui.widgets.chartkey import fitted, fmt, key_lines

CHARTS = (("train_loss", "train loss"), ("test_loss", "test loss"),
          ("train_acc", "train acc"), ("test_acc", "test acc"))
ONSET_MARKER = "◆"
ONSET_METRIC = "test_loss"
# a group's spread is its colour, dim. plotext draws no text style, so the spread is drawn in a
# stand-in colour (greys no run and no cursor uses) that `render` turns into the dim colour.
SPREAD_STAND_IN = {232 + k: colour for k, colour in enumerate(PALETTE)}
STAND_IN_OF = {colour: stand_in for stand_in, colour in SPREAD_STAND_IN.items()}
LIVE_METRIC = "train_loss"
LIVE_MARKER = "·"
CURSOR_COLOUR = 244  # mid grey: visible on dark and light themes, quieter than any run
# around the chart's canvas: the title row above, the x axis and its labels below
ROWS_AROUND_CANVAS = 3
LOSS_MIN_SPAN = 0.1  # a loss axis spans at least 10% of the loss: noise on a flat curve stays flat
ACC_MIN_SPAN = 0.02


def min_span(metric: str, values: list[float]) -> float:
    if metric.endswith("acc"):
        return ACC_MIN_SPAN
    middle = (min(values) + max(values)) / 2 if values else 1.0
    return max(LOSS_MIN_SPAN * abs(middle), 1e-3)



def dim_spread(text: Text) -> Text:
    """The spread's stand-in colours as their group's colour, dim."""
    for k, span in enumerate(text.spans):
        style = span.style
        if isinstance(style, Style) and style.color and style.color.number in SPREAD_STAND_IN:
            colour = Color.from_ansi(SPREAD_STAND_IN[style.color.number])
            text.spans[k] = Span(span.start, span.end, style + Style(color=colour, dim=True))
    return text


class MetricChart(PlotextPlot):
    """One metric per epoch for each run; redrawn from `series` on every render.

    `keyed`: draw its own key row(s) under the plot (a chart on its own); in the grid
    the shared ChartKey does it."""

    can_focus = True
    BINDINGS = [
        Binding("left", "cursor(-1)", "Epoch ←", show=False),
        Binding("right", "cursor(1)", "Epoch →", show=False),
        Binding("home", "cursor_to('first')", "First epoch", show=False),
        Binding("end", "cursor_to('last')", "Last epoch", show=False),
    ]
    HELP = {"cursor(-1)": "on a focused chart (g): move the cursor an epoch back / on; the key reads the values there",
            "cursor(1)": "on a focused chart (g): move the cursor an epoch back / on; the key reads the values there",
            "cursor_to('first')": "on a focused chart: the cursor to the first / last epoch",
            "cursor_to('last')": "on a focused chart: the cursor to the first / last epoch"}

    class Changed(Message):
        """The series or the cursor changed: a shared key redraws."""

        def __init__(self, chart: MetricChart) -> None:
            super().__init__()
            self.chart = chart

    def __init__(self, metric: str, title: str, keyed: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric, self.title, self.keyed = metric, title, keyed
        self.series: list[tuple[str, int, list[int], list[float]]] = []  # (label, colour, x, y)
        self.markers: list[tuple[int, int]] = []  # (index in series, onset epoch): test loss only
        self.live: dict[int, tuple[int, float]] = {}  # index in series -> (epoch in progress, running value)
        self.spread: dict[int, tuple[list, list]] = {}  # index in series -> a group's (lowest, highest) per epoch
        self.presmoothed: set[int] = set()  # indices in series smoothed already (groups: seed by seed)
        self.smoothing = False
        self.log_y = False
        self.cursor: int | None = None  # the epoch the cursor is on (shown while focused)
        self.hint = ""  # appended to the title (the grid's "v: next chart")
        self._columns: tuple[int, int, int] | None = None  # as last drawn: (first canvas column, columns, last epoch)

    # ---- data ---------------------------------------------------------------
    def show(self, views: list[RunView], smoothing: bool, log_y: bool, seeds: bool = False) -> None:
        """Draw `views`: a group of seeds as its mean and spread, or (`seeds`) each run alone."""
        drawing = curves(views, self.metric, seeds, smoothing)
        self.series = [(c.label, c.colour, c.x, c.y) for c in drawing]
        self.spread = {k: (c.low, c.high) for k, c in enumerate(drawing) if c.low is not None}
        self.presmoothed = {k for k, c in enumerate(drawing) if c.smoothed}
        self.live = {k: c.view.live for k, c in enumerate(drawing)
                     if self.metric == LIVE_METRIC and c.view is not None and c.view.live is not None}
        self.markers = []
        if self.metric == ONSET_METRIC:
            for k, (_, _, x, y) in enumerate(self.series):
                epoch = overfit_onset(x, y)
                if epoch is not None:
                    self.markers.append((k, epoch))
        self.smoothing, self.log_y = smoothing, log_y
        if self.cursor is not None:
            self.cursor = min(max(self.cursor, self.first_epoch), self.last_epoch)
        self.refresh()
        self.post_message(self.Changed(self))

    def drawn(self) -> list[tuple[str, int, list[int], list[float]]]:
        """The series as drawn: smoothed or not, without the points no axis can show (NaN,
        infinite; on a log axis 0 and below); the epoch in progress not included."""
        return [(label, colour, *self._drawable(x, smooth(y) if self.smoothing and k not in self.presmoothed else y))
                for k, (label, colour, x, y) in enumerate(self.series)]

    def drawn_spread(self) -> dict[int, tuple[list[int], list[float], list[float]]]:
        """Per group in series: (epochs, lowest, highest) as drawn."""
        out = {}
        for k, (low, high) in self.spread.items():
            x = self.series[k][2]
            keep = [j for j in range(len(x)) if self._shown(low[j]) and self._shown(high[j])]
            out[k] = [x[j] for j in keep], [low[j] for j in keep], [high[j] for j in keep]
        return out

    def _shown(self, value: float) -> bool:
        return math.isfinite(value) and (value > 0 or not self.log_y)

    def _drawable(self, x: list[int], y: list[float]) -> tuple[list[int], list[float]]:
        keep = [k for k, v in enumerate(y) if self._shown(v)]
        return [x[k] for k in keep], [y[k] for k in keep]

    def live_points(self, drawn) -> dict[int, tuple[int, float]]:
        """Per run with an epoch in progress: (epoch, value as drawn). Smoothed, it is where the
        smoothed curve would go if the epoch ended now."""
        points = {}
        for k, (epoch, value) in self.live.items():
            _, _, x, y = self.series[k]
            if x and epoch <= x[-1]:
                continue  # the epoch's own value is in: it replaces the running one
            value = smooth(y + [value])[-1] if self.smoothing else value
            if math.isfinite(value) and (value > 0 or not self.log_y):
                points[k] = (epoch, value)
        return points

    first_epoch = 1  # the x axis starts here (tui.widgets.fullchart narrows it)
    empty_note = ""  # why nothing is drawn, when the runs on screen are all filtered out (tui.manyruns)

    @property
    def last_epoch(self) -> int:
        epochs = [x[-1] for _, _, x, _ in self.series if x] + [e for e, _ in self.live.values()]
        return max(epochs, default=1)

    # ---- cursor -------------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        last = self.last_epoch
        self.cursor = last if self.cursor is None else min(max(self.cursor + step, self.first_epoch), last)
        self._cursor_moved()

    def action_cursor_to(self, where: str) -> None:
        self.cursor = self.first_epoch if where == "first" else self.last_epoch
        self._cursor_moved()

    def _cursor_moved(self) -> None:
        self.refresh()
        self.post_message(self.Changed(self))

    def on_focus(self, _event: events.Focus) -> None:
        self._cursor_moved()

    def on_blur(self, _event: events.Blur) -> None:
        self._cursor_moved()

    @property
    def cursor_shown(self) -> int | None:
        return self.cursor if self.has_focus else None

    def on_click(self, event: events.Click) -> None:
        """A click on the plot puts the cursor on the nearest epoch (the click also focuses)."""
        if self._columns is None:
            return
        left, columns, last = self._columns
        column = event.x - left
        if 0 <= column < columns:
            first = self.first_epoch
            self.cursor = round(first + column * (last - first) / max(columns - 1, 1))
            self._cursor_moved()

    def readout(self, named: bool = False) -> tuple[str, list[tuple[int, str]], str]:
        """The key row: (prefix, [(colour, text)], hint). With the cursor on, each run's value
        there; `named`: the prefix says which chart (a key shared by several charts in view)."""
        prefix, items, hint = self._readout(named)
        return prefix, [(colour, f"{label} {value}" if value else label) for colour, label, value in items], hint

    def _readout(self, named: bool) -> tuple[str, list[tuple[int, str, str]], str]:
        """As `readout`, with each item's label and value apart: (colour, label, value)."""
        epoch = self.cursor_shown
        if epoch is None:
            hint = "(←/→: read values)" if self.has_focus and self.series else ""
            return "", [(colour, label, "") for label, colour, _, _ in self.series], hint
        drawn = self.drawn()
        live = self.live_points(drawn)
        items = []
        for k, (label, colour, x, y) in enumerate(drawn):
            if epoch in x:
                value = fmt(y[x.index(epoch)])
            elif k in live and live[k][0] == epoch:
                value = fmt(live[k][1]) + " so far"
            else:
                value = "–"
            items.append((colour, label, value))
        name = f"{self.title}{' ~' if self.smoothing else ''}, " if named else ""
        return f"{name}epoch {epoch}:  ", items, ""

    def key_height(self, width: int, named: bool = False, max_lines: int | None = None) -> int:
        """Rows the key needs, cursor on or off, so the plot keeps its size when it comes on."""
        values = [(colour, label, "0.000 so far" if k in self.live else "0.000")
                  for k, (label, colour, _, _) in enumerate(self.series)]
        prefix = (f"{self.title} ~, " if named else "") + f"epoch {self.last_epoch}:  "
        return max(len(key_lines(fitted(values, width, prefix, max_lines), width, prefix, max_lines)),
                   len(self.key(width, named, max_lines)))

    def key(self, width: int, named: bool = False, max_lines: int | None = None) -> list[Text]:
        prefix, items, hint = self._readout(named)
        lines = key_lines(fitted(items, width, prefix, max_lines), width, prefix, max_lines)
        if hint and lines[-1].cell_len + 2 + len(hint) <= width:
            lines[-1].append("  " + hint, style="dim")
        return lines

    # ---- drawing ------------------------------------------------------------
    def render(self):
        width, height = self.size.width, self.size.height
        room = max(1, min(height - ROWS_AROUND_CANVAS - 3, height // 4))  # a key of 1 row or more, under the plot
        key = self.key(width, max_lines=room) if self.keyed else []
        rows = min(self.key_height(width, max_lines=room), room) if key else 0
        key = (key + [Text()] * rows)[:rows]
        plot_height = max(1, height - len(key) - 1)  # 1: the title row
        if not any(x for _, _, x, _ in self.series) and not self.live:
            return self._empty(width, height)
        self._draw(width, plot_height)
        plt = self.plt
        plt.plotsize(width, plot_height)
        plt._set_size(width, plot_height)  # as PlotextPlot.render does: resizing needs both
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        text = self._title_line(width)
        text.append("\n")
        text.append_text(dim_spread(Text.from_ansi(plt.build().rstrip("\n"))))
        for line in key:
            text.append("\n")
            text.append_text(line)
        return text

    def _empty(self, width: int, height: int) -> Text:
        """No epoch to draw yet: the title and one line saying so, not a bare frame."""
        lines = [self._title_line(width)] + [Text() for _ in range(height - 1)]
        note = "no finished epoch yet" if self.series else (self.empty_note or "no runs on screen yet")
        line = Text(note, style="dim")
        line.align("center", width)
        lines[max(1, height // 2)] = line
        return Text("\n").join(lines[:height])

    def _title_line(self, width: int) -> Text:
        """Drawn here, not by plotext: its title row is overwritten when the top frame is off."""
        title = Text(self.title + (" ~" if self.smoothing else ""), style="bold")
        if self.markers:
            title.append(f"  {ONSET_MARKER} lowest")
        title.append(self.hint, style="dim")
        title.truncate(width, overflow="ellipsis")
        title.align("center", width)
        return title

    def _draw(self, width: int, height: int) -> None:
        plt = self.plt
        plt.clear_data()
        plt.xaxes(True, False)  # an L-shaped frame: the row and column go to the data
        plt.yaxes(True, False)
        drawn = self.drawn()
        live = self.live_points(drawn)
        spread = self.drawn_spread()
        values = ([v for _, _, _, y in drawn for v in y] + [v for _, v in live.values()]
                  + [v for _, low, high in spread.values() for v in low + high])
        rows = max(2, height - 2)  # the canvas: less the x axis and its labels
        axis = y_axis(values, rows, min_span(self.metric, values), floor=0.0,
                                  ceiling=1.0 if self.metric.endswith("acc") else None, log=self.log_y)
        first = self.first_epoch
        last = max(self.last_epoch, first + 1)
        epoch = self.cursor_shown
        if epoch is not None:  # first, so the curves draw over it
            bottom, top = (10 ** axis.lo, 10 ** axis.hi) if self.log_y else (axis.lo, axis.hi)
            plt.plot([epoch, epoch], [bottom, top], color=CURSOR_COLOUR, marker="braille")
        # characters (not braille) go on the cells of the braille points they belong to
        columns = width - max(map(len, axis.labels)) - 1  # less the y labels and the axis
        self._columns = (width - columns, columns, last)

        def cell(epoch, value):
            return on_column(epoch, first, last, columns), on_row(value, axis, rows)

        for k, (x, low, high) in spread.items():  # under the means: a shared cell shows the mean
            for edge in (low, high):
                if x:
                    plt.plot(x, edge, color=STAND_IN_OF.get(drawn[k][1], drawn[k][1]), marker="braille")
        for _, colour, x, y in drawn:
            if x:
                plt.plot(x, y, color=colour, marker="braille")
        for k, (epoch, value) in live.items():
            _, colour, x, y = drawn[k]
            points = ([cell(x[-1], y[-1])] if x else []) + [cell(epoch, value)]
            plt.plot(*zip(*points), color=colour, marker=LIVE_MARKER)
            if x:  # the last finished point again, over the segment's first dot
                plt.plot(x[-1:], y[-1:], color=colour, marker="braille")
        for k, onset in self.markers:  # on the curve as drawn (smoothed or not)
            _, colour, x, y = drawn[k]
            plt.scatter(*zip(cell(onset, y[x.index(onset)])), color=colour, marker=ONSET_MARKER)
        plt.yscale("log" if self.log_y else "linear")
        plt.ylim(axis.lo, axis.hi)
        plt.yticks(*label_positions(axis, rows))
        plt.xlim(first, last)
        plt.xticks([first - 1 + t for t in x_ticks(last - first + 1, width - max(map(len, axis.labels)) - 2)])
