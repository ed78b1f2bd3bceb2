"""A one-line progress bar for the epoch being trained, with its ETA."""
from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from tui.widgets.runs_table import format_duration


class EpochProgress(Horizontal):
    def __init__(self, clock=time.monotonic, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._epoch = None
        self._mark = (0.0, 0)  # (time, batch) of the epoch's first progress event

    def compose(self) -> ComposeResult:
        yield Label("idle", id="progress-label")
        yield ProgressBar(show_eta=False, id="progress-bar")
        yield Label("", id="progress-eta")

    def advance(self, run: str, epoch: int, epochs: int, batch: int, batches: int) -> None:
        now = self.clock()
        if (run, epoch) != self._epoch:
            self._epoch, self._mark = (run, epoch), (now, batch)
        # fixed-width labels, so no layout pass: this runs ten times a second
        self.query_one("#progress-label", Label).update(f"ep {epoch}/{epochs} {run}", layout=False)
        self.query_one(ProgressBar).update(total=batches, progress=batch)
        t0, b0 = self._mark
        eta = (now - t0) / (batch - b0) * (batches - batch) if batch > b0 else None
        self.query_one("#progress-eta", Label).update("" if eta is None else f"ETA {format_duration(eta)}",
                                                      layout=False)

    def idle(self, text: str = "idle") -> None:
        self._epoch = None
        self.query_one("#progress-label", Label).update(text)
        self.query_one(ProgressBar).update(total=100, progress=0)
        self.query_one("#progress-eta", Label).update("")
