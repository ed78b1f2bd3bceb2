"""`/`: the filter of the runs table and the charts, typed in a small dialog (tui.runfilter says
what the words mean). As you type it says how many runs match, or which word it cannot read;
enter keeps the filter, escape leaves the one before, an empty filter shows every run."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.runfilter import FilterError, parse

EXAMPLES = "e.g. lr=0.01 adam · finished · !finished · epochs>=20 · part of a name"


class FilterScreen(ModalScreen[str | None]):
    """Dismisses the filter's text (\"\": none), or None when cancelled."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, text: str, count, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text, self.count = text, count  # count(RunFilter) -> (runs shown, runs on screen)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="filter"):
            yield Label("Show the runs that match (all words)", classes="dialog-title")
            # the filter stays, the cursor at its end: a word typed narrows it further
            yield Input(self.text, placeholder=EXAMPLES, id="filter-input", select_on_focus=False)
            yield Static(id="filter-result", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).cursor_position = len(self.text)
        self._check(self.text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str) -> bool:
        result = self.query_one("#filter-result", Static)
        try:
            shown, total = self.count(parse(text))
        except FilterError as e:
            result.update(str(e))
            result.add_class("-error")
            return False
        result.remove_class("-error")
        result.update(f"{shown} of {total} runs match." if text.strip() else f"No filter: all {total} runs. {EXAMPLES}")
        return True

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self._check(event.value):
            self.dismiss(" ".join(event.value.split()))
        else:
            self.app.bell()
