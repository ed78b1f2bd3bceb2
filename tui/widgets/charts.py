"""Four plotext charts: every run on screen overlaid, one fixed colour per run."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual_plotext import PlotextPlot

from tui.runview import RunView, smooth

CHARTS = (("train_loss", "train loss"), ("test_loss", "test loss"),
          ("train_acc", "train acc"), ("test_acc", "test acc"))
LEGEND_MIN_WIDTH = 44  # below this the legend would hide the curves; the table's swatches serve


class MetricChart(PlotextPlot):
    """One metric per epoch for each run; redrawn from `series` on every render."""

    can_focus = True

    def __init__(self, metric: str, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric, self.title = metric, title
        self.series: list[tuple[str, int, list[int], list[float]]] = []  # (label, colour, x, y)
        self.smoothing = False
        self.log_y = False

    def show(self, views: list[RunView], smoothing: bool, log_y: bool) -> None:
        self.series = [(v.name, v.colour, *v.series(self.metric)) for v in views]
        self.smoothing, self.log_y = smoothing, log_y
        self.refresh()

    def render(self):
        plt = self.plt
        plt.clear_data()
        drawn = [(label, colour, x, smooth(y) if self.smoothing else y)
                 for label, colour, x, y in self.series if x]
        legend = self.size.width >= LEGEND_MIN_WIDTH
        last = 1
        for label, colour, x, y in drawn:
            plt.plot(x, y, color=colour, marker="braille", label=label if legend else None)
            last = max(last, x[-1])
        plt.title(self.title + (" ~" if self.smoothing else ""))
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
