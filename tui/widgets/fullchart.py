"""One metric chart on the whole screen (tui.screens.chart) with its epoch range narrowed by keys:
`[` `]` move the first epoch shown, `{` `}` the last, `0` shows every epoch again. Until `}` has
been pressed the range ends at the latest epoch, so a run in training keeps coming into view."""
from __future__ import annotations

from textual.binding import Binding

from tui.widgets.charts import MetricChart


class RangedChart(MetricChart):
    BINDINGS = [
        Binding("left_square_bracket", "start(-1)", "[ start", show=False),
        Binding("right_square_bracket", "start(1)", "start ]", show=False),
        Binding("left_curly_bracket", "end(-1)", "{ end", show=False),
        Binding("right_curly_bracket", "end(1)", "end }", show=False),
        Binding("0", "whole", "All epochs", show=False),
    ]
    HELP = {"start(-1)": "full-screen chart: [ / ] move the first epoch shown",
            "start(1)": "full-screen chart: [ / ] move the first epoch shown",
            "end(-1)": "full-screen chart: { / } move the last epoch shown",
            "end(1)": "full-screen chart: { / } move the last epoch shown",
            "whole": "full-screen chart: every epoch again"}

    def __init__(self, metric: str, title: str, **kwargs) -> None:
        super().__init__(metric, title, keyed=True, **kwargs)
        self.start = 1
        self.end: int | None = None  # None: the latest epoch, whatever it is by now

    @property
    def all_epochs(self) -> int:
        return MetricChart.last_epoch.fget(self)

    @property
    def first_epoch(self) -> int:
        return max(1, min(self.start, self.all_epochs - 1))

    @property
    def last_epoch(self) -> int:
        return self.all_epochs if self.end is None else max(min(self.end, self.all_epochs), self.first_epoch + 1)

    @property
    def epoch_range(self) -> tuple[int, int]:
        return self.first_epoch, max(self.last_epoch, self.first_epoch)

    def _drawable(self, x, y):
        x, y = super()._drawable(x, y)
        first, last = self.epoch_range
        keep = [k for k, epoch in enumerate(x) if first <= epoch <= last]
        return [x[k] for k in keep], [y[k] for k in keep]

    def drawn_spread(self):
        first, last = self.epoch_range
        out = {}
        for k, (x, low, high) in super().drawn_spread().items():
            keep = [j for j, epoch in enumerate(x) if first <= epoch <= last]
            out[k] = [x[j] for j in keep], [low[j] for j in keep], [high[j] for j in keep]
        return out

    def live_points(self, drawn):
        first, last = self.epoch_range
        return {k: p for k, p in super().live_points(drawn).items() if first <= p[0] <= last}

    def action_start(self, step: int) -> None:
        self.start = max(1, min(self.first_epoch + step, self.last_epoch - 1))
        self._changed()

    def action_end(self, step: int) -> None:
        end = self.last_epoch + step
        self.end = None if end >= self.all_epochs else max(end, self.first_epoch + 1)
        self._changed()

    def action_whole(self) -> None:
        self.start, self.end = 1, None
        self._changed()

    def show(self, *args, **kwargs) -> None:
        super().show(*args, **kwargs)
        self._hint()  # after: the range is the newly shown runs' (the title is drawn at the next refresh)

    def _changed(self) -> None:
        if self.cursor is not None:
            self.cursor = min(max(self.cursor, self.first_epoch), self.last_epoch)
        self._hint()
        self._cursor_moved()

    def _hint(self) -> None:
        first, last = self.epoch_range
        self.hint = f"  epochs {first}–{last} of {self.all_epochs}  ([ ] start, {{ }} end, 0 all, escape back)"
