"""Dialogs: CIFAR-10 missing (offer synthetic data) and opening past runs."""
from __future__ import annotations

from pathlib import Path

from rich.segment import Segment
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Button, Checkbox, Label, SelectionList, Static

from core.records import RunInfo


class DataMissingScreen(ModalScreen[bool]):
    """Dismisses True to rerun with dataset=synthetic."""

    BINDINGS = [("y", "dismiss(True)", "Use synthetic"), ("escape,n", "dismiss(False)", "Cancel")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("CIFAR-10 is not available", classes="dialog-title")
            yield Static(self.message, classes="dialog-text", markup=False)
            yield Static("Run on the synthetic data set instead (offline, in memory)? "
                         "The curves then show the console working, not CIFAR-10 results.",
                         classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Use synthetic (y)", variant="primary", id="synthetic")
                yield Button("Cancel (n)", id="cancel")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "synthetic")


def describe(info: RunInfo) -> str:
    best = max((m["test_acc"] for m in info.metrics if "test_acc" in m), default=None)
    acc = f"  best {best:.3f}" if best is not None else ""
    live = " (live)" if info.status == "running" else ""  # another process trains it: opened, it is followed
    return f"{info.experiment}/{info.path.name}  {info.status}{live}  {len(info.metrics)} ep{acc}"


class TickList(SelectionList):
    """A SelectionList whose unselected rows show an empty box: the stock one shows a dim X,
    which reads as ticked on many terminals."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        index = self.scroll_offset.y + y
        if index >= self.option_count or self.get_option_at_index(index).value in self.selected:
            return strip
        segments = list(strip)
        if len(segments) > 1 and segments[1].text == Checkbox.BUTTON_INNER:
            segments[1] = Segment(" ", segments[1].style)
        return Strip(segments, strip.cell_length)


class PastRunsScreen(ModalScreen[list]):
    """Pick run folders under the log dir to overlay; dismisses the chosen paths.

    `single`: pick one run (to resume): o takes the highlighted run when none is selected.
    `preselect`: every run starts selected (o takes them all)."""

    BINDINGS = [("escape", "dismiss([])", "Cancel"), ("o", "open", "Open")]

    def __init__(self, runs: list[RunInfo], logdir: str, title: str = "", single: bool = False,
                 preselect: bool = False) -> None:
        super().__init__()
        self.preselect = preselect
        self.runs, self.logdir = runs, logdir
        self.title, self.single = title or f"Runs under {logdir}", single

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="past"):
            yield Label(self.title, classes="dialog-title")
            if self.runs:
                yield TickList(*[(Text(describe(r)), str(r.path), self.preselect) for r in self.runs], id="past-runs")
                yield Static("↑↓ then o: resume that run   escape: cancel" if self.single else
                             "space: select or not   o: follow the selected live   escape: cancel" if self.preselect
                             else "space: select   o: open the selected   escape: cancel", classes="dialog-text")
            else:
                yield Static("No runs here yet: start one, or open the console with --logdir DIR.",
                             classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume (o)" if self.single else "Follow (o)" if self.preselect else "Open (o)",
                             variant="primary", id="open")
                yield Button("Cancel (esc)", id="cancel")

    def action_open(self) -> None:
        chosen = self.query(SelectionList)
        if not chosen:
            self.dismiss([])
            return
        paths = chosen.first().selected
        if self.single:
            highlighted = chosen.first().highlighted
            paths = paths[:1] or ([chosen.first().get_option_at_index(highlighted).value]
                                  if highlighted is not None else [])
        self.dismiss([Path(p) for p in paths])

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "open":
            self.action_open()
        else:
            self.dismiss([])
