"""RunConfig: every knob of one training run, and its validation.

The CLI (`--set key=value`), the presets and the console form all build a
RunConfig through `make_config`, so a bad value gets the same sentence
wherever it comes from.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REGULARIZERS = ("none", "l1", "l2", "dropout")
OPTIMIZERS = ("sgd", "adam")
DATASETS = ("cifar10", "synthetic")
# "auto": bf16 where the device runs it natively, else fp32 (core/precision.py)
PRECISIONS = ("auto", "fp32", "bf16")
# λ for l1/l2 and p for dropout, as in the reference study
DEFAULT_STRENGTH = {"none": 0.0, "l1": 1e-4, "l2": 1e-3, "dropout": 0.25}


class ConfigError(ValueError):
    """A value the user gave is not allowed; the message says which and why, and `field` names the
    RunConfig field at fault ("" when it is about none), so a form can mark it without reading the text."""

    def __init__(self, message: str = "", field: str = ""):
        super().__init__(message)
        self.field = field


def _bad(name: str, text: str) -> ConfigError:
    """`name: text`, about the field `name`."""
    return ConfigError(f"{name}: {text}", field=name)


def default_data_dir() -> str:
    env = os.environ.get("CIFAR_TUI_DATA")
    if env:
        return env
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return os.path.join(cache, "cifar-tui")


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "cifar10"
    data_dir: str = field(default_factory=default_data_dir)
    train_fraction: float = 0.5
    augment: bool = False
    normalize: bool = False
    regularizer: str = "none"
    reg_strength: float | None = None  # None: the regularizer's default
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    epochs: int = 40
    batch_size: int = 128
    seed: int = 4
    device: str = "auto"
    logit_relu: bool = False
    precision: str = "auto"  # a run records what "auto" resolved to
    compile: bool = False

    @property
    def strength(self) -> float:
        """The effective λ (l1/l2) or p (dropout)."""
        if self.reg_strength is None:
            return DEFAULT_STRENGTH[self.regularizer]
        return self.reg_strength

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "RunConfig":
        return make_config({**self.to_dict(), **changes})


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


def _typed(name: str, value, kind):
    """Coerce `value` to `kind` (bool/int/float/str) or raise ConfigError."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise _bad(name, f"{value!r} is not allowed; use true or false.")
    if kind is int:
        if isinstance(value, bool):
            raise _bad(name, f"{value!r} is not allowed; use a whole number.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise _bad(name, f"{value!r} is not allowed; use a whole number.")
    if kind is float:
        if isinstance(value, bool):
            raise _bad(name, f"{value!r} is not allowed; use a number.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(name, f"{value!r} is not allowed; use a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise _bad(name, f"{value!r} is not allowed; use a finite number.")
        return number
    if not isinstance(value, str):
        raise _bad(name, f"{value!r} is not allowed; use text.")
    return value.strip()


_KINDS = {
    "dataset": str, "data_dir": str, "train_fraction": float, "augment": bool,
    "normalize": bool, "regularizer": str, "reg_strength": float, "optimizer": str,
    "lr": float, "momentum": float, "epochs": int, "batch_size": int, "seed": int,
    "device": str, "logit_relu": bool, "precision": str, "compile": bool,
}
KINDS = _KINDS  # read by core.schema, which checks a stored config.json against the same kinds


def _choice(name, value, allowed):
    value = value.lower()
    if value not in allowed:
        raise _bad(name, f"{value!r} is not allowed; choose one of {', '.join(allowed)}.")
    return value


def _check_device(value: str) -> str:
    value = value.lower()
    if value in ("auto", "cpu"):
        return value
    if re.fullmatch(r"cuda(:\d+)?", value):
        import torch

        if not torch.cuda.is_available():
            raise _bad("device", f"{value!r} asked for, but no CUDA GPU is available here; "
                              "use device=cpu or device=auto.")
        index = int(value.split(":")[1]) if ":" in value else 0
        if index >= torch.cuda.device_count():
            raise _bad("device", f"{value!r} does not exist; this machine has "
                              f"{torch.cuda.device_count()} GPU(s) (cuda:0 ...).")
        return value
    if value == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise _bad("device", "'mps' asked for, but Apple's GPU is not available here; "
                              "use device=cpu or device=auto.")
        return value
    raise _bad("device", f"{value!r} is not allowed; use auto, cpu, cuda, cuda:N or mps.")


def make_config(values: dict | None = None, base: RunConfig | None = None) -> RunConfig:
    """Build a validated RunConfig from `values` laid over `base` (or the defaults)."""
    merged = (base or RunConfig()).to_dict()
    for key, value in (values or {}).items():
        if key not in FIELDS:
            raise ConfigError(f"unknown setting {key!r}; known settings are: {', '.join(FIELDS)}.")
        merged[key] = value
    out = {}
    for name, value in merged.items():
        if name == "reg_strength" and value is None:
            out[name] = None
            continue
        out[name] = _typed(name, value, _KINDS[name])
    _check_ranges(out)
    return RunConfig(**out)


def _check_ranges(c: dict) -> None:
    c["dataset"] = _choice("dataset", c["dataset"], DATASETS)
    c["regularizer"] = _choice("regularizer", c["regularizer"], REGULARIZERS)
    c["optimizer"] = _choice("optimizer", c["optimizer"], OPTIMIZERS)
    c["precision"] = _choice("precision", c["precision"], PRECISIONS)
    c["device"] = _check_device(c["device"])
    if not c["data_dir"]:
        raise _bad("data_dir", "must not be empty; give the folder that holds (or will hold) CIFAR-10.")
    if not 0 < c["train_fraction"] <= 1:
        raise _bad("train_fraction", f"{c['train_fraction']!r} is not allowed; use a number in (0, 1].")
    if c["lr"] <= 0:
        raise _bad("lr", f"{c['lr']!r} is not allowed; use a learning rate above 0 (e.g. 0.001).")
    if not 0 <= c["momentum"] < 1:
        raise _bad("momentum", f"{c['momentum']!r} is not allowed; use a number in [0, 1).")
    if c["momentum"] and c["optimizer"] != "sgd":
        raise _bad("momentum", "only SGD uses momentum; set optimizer=sgd or momentum=0.")
    if c["epochs"] < 1:
        raise _bad("epochs", f"{c['epochs']!r} is not allowed; use 1 or more.")
    if c["epochs"] > 100_000:
        raise _bad("epochs", f"{c['epochs']!r} is too many; use at most 100000.")
    if not 1 <= c["batch_size"] <= 65536:
        raise _bad("batch_size", f"{c['batch_size']!r} is not allowed; use a whole number from 1 to 65536.")
    if not 0 <= c["seed"] < 2**63:
        raise _bad("seed", f"{c['seed']!r} is not allowed; use a whole number from 0 to 2**63-1.")
    s = c["reg_strength"]
    if s is not None:
        if c["regularizer"] == "dropout" and not 0 <= s < 1:
            raise _bad("reg_strength", f"{s!r} is not allowed for dropout; use a probability in [0, 1).")
        if s < 0:
            raise _bad("reg_strength", f"{s!r} is not allowed; use 0 or more.")


def parse_assignment(text: str) -> tuple[str, object]:
    """Split a `key=value` string from the command line; values stay text and are typed by make_config."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: write it as key=value, e.g. --set lr=0.01.")
    return key, value.strip()
