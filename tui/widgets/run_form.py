"""The run form: one row per RunConfig setting, named exactly as in core/config.py.

Every change is validated with core.config.make_config; a bad field gets the
ConfigError sentence right under it. Under them, `seeds` (not a RunConfig setting): how
many seeds `s` and `a` run each run over (core.seeds.parse_seeds: `3`, or `4,5,6`); blank
means the preset's own (one seed unless the preset says `seeds = N`).
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static

from core.config import DATASETS, OPTIMIZERS, PRECISIONS, REGULARIZERS, ConfigError, RunConfig
from core.seeds import ONE, Seeds, parse_seeds
from tui.formcheck import check

# (field, kind, choices); order is the order on screen
FIELDS = (
    ("dataset", "select", DATASETS),
    ("train_fraction", "input", None),
    ("augment", "check", None),
    ("normalize", "check", None),
    ("regularizer", "select", REGULARIZERS),
    ("reg_strength", "input", None),
    ("optimizer", "select", OPTIMIZERS),
    ("lr", "input", None),
    ("momentum", "input", None),
    ("epochs", "input", None),
    ("batch_size", "input", None),
    ("seed", "input", None),
    ("device", "input", None),
    ("precision", "select", PRECISIONS),
)
SEEDS = "seeds"


def seeds_text(seeds: Seeds) -> str:
    return ",".join(map(str, seeds.values)) if seeds.values else str(seeds.count)


def _text(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class RunForm(VerticalScroll):
    """The settings of the run that `s` starts. Posts RunForm.Changed after each edit."""

    # the focused field stands out: its row tinted, its name lit, its value on a stronger tint
    # (the compact widgets' own focus style is a 5% tint, invisible on most terminals). The
    # row's own rule also makes Textual restyle the name when focus comes or goes.
    DEFAULT_CSS = """
    RunForm .field:focus-within {
        background: $accent 15%;
    }
    RunForm .field:focus-within .field-name {
        background: $accent 40%;
        text-style: bold;
    }
    RunForm Input:focus, RunForm Select:focus > SelectCurrent {
        background: $accent 25%;
    }
    """

    class Changed(Message):
        def __init__(self, form: "RunForm") -> None:
            super().__init__()
            self.form = form

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = RunConfig(dataset="synthetic")
        self.errors: dict[str, str] = {}
        self.last_edited: str | None = None  # the field `f` returns to
        self._loaded: dict = {}  # each field's value as `load` set it
        self._loading = False
        self.default_seeds = ONE  # what a blank seeds field means: the chosen preset's seeds
        self._loaded[SEEDS] = ""  # never loaded: any text is an edit `f` returns to

    def compose(self) -> ComposeResult:
        for name, kind, choices in FIELDS:
            with Horizontal(classes="field"):
                yield Label(name, classes="field-name")
                if kind == "select":
                    yield Select([(c, c) for c in choices], allow_blank=False, compact=True, id=f"field-{name}")
                elif kind == "check":
                    yield Checkbox("off", id=f"field-{name}")
                else:
                    yield Input(compact=True, id=f"field-{name}", select_on_focus=False)
            yield Static("", classes="field-error", id=f"error-{name}")
        with Horizontal(classes="field"):
            yield Label(SEEDS, classes="field-name")
            yield Input(compact=True, id=f"field-{SEEDS}", select_on_focus=False, placeholder="1")
        yield Static("", classes="field-error", id=f"error-{SEEDS}")
        yield Static("", classes="field-error", id="error-form")

    def widget(self, name: str):
        return self.query_one(f"#field-{name}")

    def focus_field(self) -> None:
        """Focus the field edited last (the first field before any edit)."""
        self.widget(self.last_edited or FIELDS[0][0]).focus()

    def load(self, config: RunConfig) -> None:
        """Show `config`; it becomes the base that edits are laid over."""
        self.base = config
        self._loading = True
        try:
            for name, kind, _ in FIELDS:
                value = getattr(config, name)
                w = self.widget(name)
                w.value = self._loaded[name] = _text(value) if kind == "input" else value
            self._hints()
        finally:
            self._loading = False
        self.validate()

    def preset_seeds(self, seeds: Seeds) -> None:
        """The chosen preset's seeds: what a blank seeds field runs, shown as its placeholder."""
        self.default_seeds = seeds
        self.widget(SEEDS).placeholder = seeds_text(seeds)
        self.validate()

    def seeds(self) -> Seeds | None:
        """The seeds each run gets; None when the field is invalid (its sentence is under it)."""
        return self._parse_seeds()[0]

    def _parse_seeds(self) -> tuple[Seeds | None, str]:
        """(the seeds, "") or (None, what is wrong with the field)."""
        text = self.widget(SEEDS).value
        if not text.strip():
            return self.default_seeds, ""
        try:
            return parse_seeds(text, SEEDS), ""
        except ConfigError as e:
            return None, str(e).replace("--seeds ", "")  # the CLI's examples, as typed here

    def values(self) -> dict:
        """The raw form values by field name (text as typed; blank reg_strength = default)."""
        out = {}
        for name, kind, _ in FIELDS:
            value = self.widget(name).value
            if name == "reg_strength" and not str(value).strip():
                value = None
            out[name] = value
        return out

    def validate(self) -> RunConfig | None:
        """Check the form, show the messages inline, return the config or None."""
        config, errors = check(self.values(), self.base)
        if seeds_error := self._parse_seeds()[1]:
            errors[SEEDS] = seeds_error
        order = [n for n, _, _ in FIELDS] + [SEEDS, "form"]
        self.errors = {n: errors[n] for n in order if n in errors}
        for name in order:
            label = self.query_one(f"#error-{name}", Static)
            message = self.errors.get(name, "")
            label.update(message)
            label.display = bool(message)
            if name != "form":
                self.widget(name).set_class(bool(message), "-invalid")
        return None if seeds_error else config

    @property
    def edited(self) -> bool:
        """Whether the form differs from the run it was loaded from."""
        config, errors = check(self.values(), self.base)
        return bool(errors) or config != self.base

    def overrides(self) -> dict:
        """The settings the user changed, to lay over every run of a preset."""
        config = self.validate()
        if config is None:
            return {}
        return {k: v for k, v in config.to_dict().items() if getattr(self.base, k) != v}

    def _hints(self) -> None:
        """Checkbox labels and the reg_strength placeholder follow the values."""
        for box in self.query(Checkbox):  # an X only when on: `▐X▌ off` reads as ticked
            box.label = "on" if box.value else "off"
            box.BUTTON_INNER = "X" if box.value else " "
            box.refresh()
        from core.config import DEFAULT_STRENGTH

        regularizer = self.widget("regularizer").value
        self.widget("reg_strength").placeholder = f"default {DEFAULT_STRENGTH.get(regularizer, 0):g}"

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        if self._loading:
            return
        name = (event.control.id or "").removeprefix("field-")
        if name in self._loaded and event.control.value != self._loaded[name]:  # not `load`'s own change
            self.last_edited = name
        self._hints()
        self.validate()
        self.post_message(self.Changed(self))
