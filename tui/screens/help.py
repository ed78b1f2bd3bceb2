"""The help screen (`?`): every key and what it does."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# cifar-tui

Pick a **preset** on the left (its runs fill the form), edit the **form** if you like
(an edited run is named after its edits, e.g. `baseline+lr0.01`), then start; starting
while a run trains queues the new run. Curves of every run on screen are overlaid, one
colour per run (the ● in the table; ○: hidden with `d`). A run is named by its folder
under the log dir (`baseline-2` when started twice), past runs opened with `o` say
`(past)`, and the table's last column shows how a run's settings differ from its
experiment's first run. Records go to the log dir, the same as `cifar-tui run`:
`metrics.jsonl`, TensorBoard files, `checkpoint.pt`.

In a text field keys type text: press `escape` to leave the form, then use the keys.
`ctrl+p` opens the command palette with the same actions.

| key | action |
|---|---|
"""


KEY_NAMES = {"question_mark": "?", "left": "←", "right": "→", "slash": "/", "left_square_bracket": "[",
             "right_square_bracket": "]", "left_curly_bracket": "{", "right_curly_bracket": "}"}


def key_rows(sections) -> list[tuple[str, str]]:
    """(keys, text) rows from (bindings, {action: text}) sections, in binding order: the keys of
    actions that share a text share a row (`←, →`); a binding with a comma list (`escape,c`)
    gives each of its keys."""
    rows: dict[str, list[str]] = {}
    for bindings, texts in sections:
        for b in bindings:
            key, action = (b.key, b.action) if hasattr(b, "key") else (b[0], b[1])
            text = texts.get(action)
            if text is None:
                continue
            keys = rows.setdefault(text, [])
            keys += [KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(",") if k.strip() not in keys]
    return [(", ".join(dict.fromkeys(keys)), text) for text, keys in rows.items()]


class HelpScreen(ModalScreen):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = "".join(f"| `{key}` | {text} |\n" for key, text in self.keys)
        with VerticalScroll(id="help"):
            yield Markdown(INTRO + table + "\nPress `escape` to close.")
