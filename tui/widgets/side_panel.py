"""The side panel: the preset list, the chosen preset's runs and the run form."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from core.presets import Preset
from tui.confdiff import changes, run_name
from tui.widgets.run_form import RunForm


class SidePanel(Vertical):
    """Pick a preset (fills the form with its first run) or one of its runs."""

    class PresetChosen(Message):
        def __init__(self, preset: Preset) -> None:
            super().__init__()
            self.preset = preset

    def __init__(self, presets: list[Preset], initial: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.presets = presets
        self.initial = initial
        self.preset: Preset | None = None

    def on_mount(self) -> None:
        self.choose(self.initial if self.initial else (self.presets[0].name if self.presets else ""))

    def compose(self) -> ComposeResult:
        yield Label("presets", classes="panel-title")
        yield OptionList(*[Option(p.name, id=p.name) for p in self.presets], id="presets")
        yield Static("", id="preset-description", markup=False)  # a preset file's text, shown as written
        with Vertical(id="run-choice"):
            yield Label("run", classes="field-name")
            yield Select([], allow_blank=True, compact=True, id="preset-run", prompt="custom")
        yield RunForm(id="form")

    @property
    def form(self) -> RunForm:
        return self.query_one(RunForm)

    @property
    def run_name(self) -> str:
        """The name a form-started run gets: the chosen run's, with what was edited added
        (`baseline+sgd+lr0.01`); `custom` when no run of the preset is chosen or a value is bad."""
        chosen = self.query_one("#preset-run", Select).value
        config = self.form.validate()
        if chosen is Select.NULL or config is None:
            return "custom"
        return run_name(str(chosen), changes(self.form.base.to_dict(), config.to_dict()))

    def choose(self, name: str) -> None:
        """Highlight and choose the preset `name`."""
        names = [p.name for p in self.presets]
        if name in names:
            self.query_one("#presets", OptionList).highlighted = names.index(name)

    def step(self, delta: int) -> None:
        options = self.query_one("#presets", OptionList)
        if self.presets:
            options.highlighted = ((options.highlighted or 0) + delta) % len(self.presets)

    @on(OptionList.OptionHighlighted, "#presets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        preset = self.presets[event.option_index]
        if preset is self.preset:
            return
        self.preset = preset
        self.query_one("#preset-description", Static).update(preset.description)
        runs = self.query_one("#preset-run", Select)
        runs.set_options([(n, n) for n, _ in preset.runs])
        runs.value = preset.runs[0][0]
        self.form.load(preset.runs[0][1])
        self.post_message(self.PresetChosen(preset))

    @on(Select.Changed, "#preset-run")
    def _run_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if self.preset is not None and event.value is not Select.NULL:
            self.form.load(self.preset.run(str(event.value)))
