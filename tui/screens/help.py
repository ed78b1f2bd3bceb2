"""The help screen (`?`): every key and what it does."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# cifar-tui

Pick a **preset** on the left (its runs fill the form), edit the **form** if you like
(an edited form makes a `custom` run), then start. Curves of every run on screen are
overlaid, one colour per run (the dot in the table). Records go to the log dir, the
same as `cifar-tui run`: `metrics.jsonl`, TensorBoard files, `checkpoint.pt`.

In a text field keys type text: press `escape` to leave the form, then use the keys.
`ctrl+p` opens the command palette with the same actions.

| key | action |
|---|---|
"""


class HelpScreen(ModalScreen):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = "".join(f"| `{key}` | {text} |\n" for key, text in self.keys)
        with VerticalScroll(id="help"):
            yield Markdown(INTRO + table + "\nPress `escape` to close.")
