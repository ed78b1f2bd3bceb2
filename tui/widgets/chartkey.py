"""The key under the charts: `● label` items wrapped into a few rows, labels shortened apart
where they would not fit, and the widget that shows the focused chart's key (or readout).

plotext draws its legend inside the plot, over the curves, so the charts draw none there: one
key serves the grid, since a run has the same colour in every chart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from tui.labels import fit

if TYPE_CHECKING:
    from tui.widgets.chartgrid import ChartGrid


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}" if abs(value) < 100 else f"{value:.4g}"


KEY_LINES = 3  # the grid's key: at most this many rows (the charts keep the rest)


def key_lines(items: list[tuple[int, str]], width: int, prefix: str = "", max_lines: int | None = None) -> list[Text]:
    """`● label` items (colour, text) wrapped into lines of `width`, never splitting an item.
    Beyond `max_lines` the last line ends with `+N more` (every curve is a row of the table)."""
    lines = _wrap(items, width, prefix)
    if max_lines is None or len(lines) <= max_lines:
        return lines
    for keep in range(len(items) - 1, -1, -1):
        for more in (f"+{len(items) - keep} more (all in the table)", f"+{len(items) - keep} more"):
            lines = _wrap(items[:keep], width, prefix, more)
            if len(lines) <= max_lines:
                return lines
    return lines[:max_lines]


def _wrap(items, width: int, prefix: str = "", more: str = "") -> list[Text]:
    lines, line = [], Text(prefix)
    pieces = [Text.assemble(("●", f"color({colour})"), " ", text) for colour, text in items]
    for item in pieces + ([Text(more, style="dim")] if more else []):
        gap = "  " if line.cell_len else ""
        if line.cell_len and line.cell_len + len(gap) + item.cell_len > width:
            lines.append(line)
            line, gap = Text(), ""
        line.append(gap)
        line.append_text(item)
    if line.cell_len or not lines:
        lines.append(line)
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return lines


MIN_KEY_LABEL = 16  # a key label is not shortened below this to fit more labels into the key's rows


def fitted(items: list[tuple[int, str, str]], width: int, prefix: str = "",
           max_lines: int | None = None) -> list[tuple[int, str]]:
    """(colour, label, value) as key items, labels fitted apart (tui.labels.fit): whole where the
    width allows; where the items would take more than `max_lines`, shortened (to MIN_KEY_LABEL
    at most) until every item fits, else to MIN_KEY_LABEL: the most items the rows can hold."""
    values = max((len(value) + 1 for _, _, value in items if value), default=0)
    full = width - 2 - values
    longest = max((len(label) for _, label, _ in items), default=0)
    for room in range(min(full, longest), MIN_KEY_LABEL - 1, -1) if max_lines else ():
        out = _items(items, room)
        if len(_wrap(out, width, prefix)) <= max_lines:
            return out
    return _items(items, min(full, MIN_KEY_LABEL) if max_lines else full)  # as many as the rows hold


def _items(items, room: int) -> list[tuple[int, str]]:
    labels = fit([label for _, label, _ in items], room)
    return [(colour, f"{label} {value}" if value else label) for (colour, _, value), label in zip(items, labels)]


class ChartKey(Static):
    """The key row(s) shared by the grid's charts: the focused chart's readout when its cursor is on."""

    def __init__(self, grid: ChartGrid, **kwargs) -> None:
        super().__init__(**kwargs)
        self.grid = grid

    def render(self):
        chart = self.grid.key_chart()
        if chart is None:
            return ""
        width = max(1, self.content_size.width)
        named = len(self.grid.shown()) > 1
        lines = chart.key(width, named, KEY_LINES)
        return Text("\n").join(lines + [Text()] * (chart.key_height(width, named, KEY_LINES) - len(lines)))

    def get_content_height(self, container, viewport, width: int) -> int:
        chart = self.grid.key_chart()
        return chart.key_height(max(1, width), len(self.grid.shown()) > 1, KEY_LINES) if chart is not None else 1

