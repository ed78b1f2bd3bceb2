"""Four plotext charts: every run on screen overlaid, one fixed colour per run.

The test-loss chart also marks each run's overfitting onset (core.compare: the epoch of
its lowest test loss) where test loss has risen since.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual_plotext import PlotextPlot

from core.compare import overfit_onset, smooth
from tui.runview import RunView

CHARTS = (("train_loss", "train loss"), ("test_loss", "test loss"),
          ("train_acc", "train acc"), ("test_acc", "test acc"))
LEGEND_MIN_WIDTH = 44  # below this the legend would hide the curves; the table's swatches serve
ONSET_MARKER = "◆"
ONSET_METRIC = "test_loss"


class MetricChart(PlotextPlot):
    """One metric per epoch for each run; redrawn from `series` on every render."""

    can_focus = True

    def __init__(self, metric: str, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric, self.title = metric, title
        self.series: list[tuple[str, int, list[int], list[float]]] = []  # (label, colour, x, y)
        self.markers: list[tuple[int, int]] = []  # (index in series, onset epoch): test loss only
        self.smoothing = False
        self.log_y = False

    def show(self, views: list[RunView], smoothing: bool, log_y: bool) -> None:
        self.series = [(v.label, v.colour, *v.series(self.metric)) for v in views]
        self.markers = []
        if self.metric == ONSET_METRIC:
            for k, (_, _, x, y) in enumerate(self.series):
                epoch = overfit_onset(x, y)
                if epoch is not None:
                    self.markers.append((k, epoch))
        self.smoothing, self.log_y = smoothing, log_y
        self.refresh()

    def render(self):
        plt = self.plt
        plt.clear_data()
        drawn = [(label, colour, x, smooth(y) if self.smoothing else y)
                 for label, colour, x, y in self.series]
        legend = self.size.width >= LEGEND_MIN_WIDTH
        last = 1
        for label, colour, x, y in drawn:
            if not x:
                continue
            plt.plot(x, y, color=colour, marker="braille", label=label if legend else None)
            last = max(last, x[-1])
        for k, epoch in self.markers:  # on the curve as drawn (smoothed or not)
            _, colour, x, y = drawn[k]
            plt.scatter([epoch], [y[x.index(epoch)]], color=colour, marker=ONSET_MARKER)
        onset = f" {ONSET_MARKER} lowest" if self.markers and self.size.width >= LEGEND_MIN_WIDTH else ""
        plt.title(self.title + (" ~" if self.smoothing else "") + onset)
        plt.yscale("log" if self.log_y else "linear")
        step = max(1, -(-last // 6))
        plt.xticks(list(range(1, last + 1, step)))
        plt.xlim(1, max(last, 2))
        return super().render()


class ChartGrid(Grid):
    def compose(self) -> ComposeResult:
        for metric, title in CHARTS:
            yield MetricChart(metric, title, id=f"chart-{metric}")

    def show(self, views: list[RunView], smoothing: bool, log_y: bool) -> None:
        for chart in self.query(MetricChart):
            chart.show(views, smoothing, log_y)
