"""How one run's settings differ from another's, in a few words: `sgd, lr 0.01`.

The runs table shows it beside each run (like the config columns of experiment trackers),
and a run started from an edited form is named after it (`baseline+sgd+lr0.01`).
Plain Python over config dicts (RunConfig.to_dict()), so past runs' config.json work too.
"""
from __future__ import annotations

from core.records import safe_name

IGNORED = {"data_dir"}  # where the data lives, not how the run trains
# settings shown as a word when on and "no <word>" when off
SWITCHES = {"augment": ("augment", "aug"), "normalize": ("normalize", "norm"),
            "logit_relu": ("logit ReLU", "logit-relu"), "compile": ("compile", "compile")}
# settings shown as "<word> <value>"
NUMBERS = {"train_fraction": ("fraction", "frac"), "lr": ("lr", "lr"), "momentum": ("momentum", "mom"),
           "batch_size": ("batch", "bs"), "seed": ("seed", "seed")}
# settings whose value says it all: "sgd", "l2", "bf16", "synthetic", "cpu"
WORDS = {"dataset", "optimizer", "precision", "device", "regularizer"}


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def change(key: str, config: dict) -> tuple[str, str]:
    """The (words, name part) for `config`'s value of `key`."""
    value = config.get(key)
    if key in SWITCHES:
        word, short = SWITCHES[key]
        return (word, short) if value else (f"no {word}", f"no-{short}")
    if key in NUMBERS:
        word, short = NUMBERS[key]
        return f"{word} {_number(value)}", f"{short}{_number(value)}"
    if key == "epochs":
        return f"{value} epochs", f"ep{value}"
    if key == "reg_strength":
        word = "p" if config.get("regularizer") == "dropout" else "λ"
        text = "default" if value is None else _number(value)
        return f"{word} {text}", f"{'p' if word == 'p' else 'reg'}{text}"
    if key == "regularizer" and value == "none":
        return "no regularizer", "no-reg"
    if key in WORDS:
        return str(value), str(value)
    return f"{key} {_number(value)}", f"{key}{_number(value)}"


def changes(base: dict, config: dict) -> list[tuple[str, str]]:
    """(words, name part) for each setting where `config` differs from `base`, in config order."""
    keys = list(config) + [k for k in base if k not in config]
    if config.get("regularizer") == "none":  # no regularizer: its strength means nothing
        keys = [k for k in keys if k != "reg_strength"]
    return [change(k, config) for k in keys if k not in IGNORED and config.get(k) != base.get(k)]


def describe(diff: list[tuple[str, str]]) -> str:
    """For the table: `sgd, lr 0.01`."""
    return ", ".join(words for words, _ in diff)


NAME_LIMIT = 120  # a folder name this long is still one path component anywhere; screens shorten it


def run_name(base_name: str, diff: list[tuple[str, str]], limit: int = NAME_LIMIT) -> str:
    """The name of a run edited from `base_name`: `baseline+sgd+lr0.01` (a safe folder name;
    past `limit` characters the edits that do not fit become `+more`, never half an edit)."""
    if not diff:
        return base_name
    name = safe_name("+".join([base_name] + [short for _, short in diff]))
    if len(name) <= limit:
        return name
    cut = name.rfind("+", 0, limit - 4)
    return name[:cut if cut > 0 else limit - 5] + "+more"
