"""One progress line for the run being trained: its epoch, a bar, and how long is left for
the run and for the whole queue (tui.eta works that out)."""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from tui.labels import fit_one
from tui.widgets.runs_table import format_duration

LABEL_WIDTH = 22  # #progress-label's width (app.tcss)


class EpochProgress(Horizontal):
    def compose(self) -> ComposeResult:
        yield Label("idle", id="progress-label")
        yield ProgressBar(show_eta=False, show_percentage=False, id="progress-bar")
        yield Label("", id="progress-eta")

    def advance(self, run: str, epoch: int, epochs: int, batch: int, batches: int, evaluating: bool = False,
                left: float | None = None, all_left: float | None = None) -> None:
        """Show epoch `epoch` of `run` at `batch` of `batches`; `left`: seconds left in the run,
        `all_left`: in the whole queue (None: not known yet, or nothing queued)."""
        # no layout pass for the left label (fixed width): this runs a few times a second
        head = f"ep {epoch}/{epochs} "  # the run's label shortened as the table does: its end stays
        self.query_one("#progress-label", Label).update(head + escape(fit_one(run, LABEL_WIDTH - len(head))),
                                                        layout=False)
        self.query_one(ProgressBar).update(total=batches, progress=batch)
        now = "evaluating" if evaluating else ("" if left is None else f"ETA {format_duration(left)}")
        queue = "" if all_left is None else f"all {format_duration(all_left)}"
        self.query_one("#progress-eta", Label).update(" · ".join(t for t in (now, queue) if t))

    def idle(self, text: str = "idle") -> None:
        self.query_one("#progress-label", Label).update(text)
        self.query_one(ProgressBar).update(total=100, progress=0)
        self.query_one("#progress-eta", Label).update("")

    @property
    def text(self) -> str:
        """The line's words (label and ETA), for the tests and the log."""
        return " ".join(str(self.query_one(f"#progress-{k}", Label).render()) for k in ("label", "eta"))
