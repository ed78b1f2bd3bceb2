"""Presets: TOML files, one experiment each (a named group of runs).

    name = "ex2-regularization"        # optional, defaults to the file name
    description = "..."
    seeds = 3                          # optional: each run over 3 seeds from its seed up (or [4, 5, 6])
    equivalence = 1.0                  # optional: compare tests equivalence within ±1 point of test accuracy
    [settings]                         # shared RunConfig values
    epochs = 40
    [[runs]]                           # each run: a name plus the values it overrides
    name = "l2"
    regularizer = "l2"
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from .config import ConfigError, RunConfig, make_config
from .records import safe_name
from .seeds import ONE, Seeds, from_toml

TOP_KEYS = {"name", "description", "seeds", "equivalence", "settings", "runs"}


class PresetError(ValueError):
    """A preset cannot be used; the message names the file, the key and the reason."""


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    runs: tuple  # ((run name, RunConfig), ...)
    path: str = ""
    seeds: Seeds = ONE  # how many seeds each run gets (core.seeds.expand makes the jobs)
    equivalence: float | None = None  # points of test accuracy `compare` tests equivalence within

    def run(self, name: str) -> RunConfig:
        for run_name, config in self.runs:
            if run_name == name:
                return config
        raise PresetError(f"preset {self.name!r} has no run {name!r}; "
                          f"its runs are: {', '.join(n for n, _ in self.runs)}.")


def bundled_dir() -> Path:
    return Path(str(resources.files("presets")))


def search_dirs() -> list[Path]:
    """User presets ($CIFAR_TUI_PRESETS, ':'-separated) first, then the bundled ones."""
    extra = [Path(p) for p in os.environ.get("CIFAR_TUI_PRESETS", "").split(os.pathsep) if p]
    return extra + [bundled_dir()]


def available() -> dict[str, Path]:
    """Preset name -> file, the first found in search order wins."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load_all(base: RunConfig | None = None) -> tuple[list[Preset], list[str]]:
    """Every available preset, and one sentence for each that is broken."""
    presets, errors = [], []
    for path in available().values():
        try:
            presets.append(load_file(path, base))
        except PresetError as e:
            errors.append(str(e))
    return presets, errors


def find(name_or_path: str, base: RunConfig | None = None) -> Preset:
    """A preset by name, or by the path of a .toml file."""
    if name_or_path.endswith(".toml") or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise PresetError(f"preset file {name_or_path} does not exist.")
        return load_file(path, base)
    known = available()
    if name_or_path not in known:
        raise PresetError(f"unknown preset {name_or_path!r}; the presets are: {', '.join(known)} "
                          "(cifar-tui presets lists them).")
    return load_file(known[name_or_path], base)


def load_file(path: Path, base: RunConfig | None = None) -> Preset:
    """Parse and validate one preset file; `base` supplies values the file leaves out (e.g. data_dir)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{path}: not valid TOML ({e}).") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PresetError(f"{path}: cannot be read ({e}).") from None
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise PresetError(f"{path}: unknown key {sorted(unknown)[0]!r}; a preset has "
                          "name, description, seeds, equivalence, [settings] and [[runs]].")
    settings, runs = doc.get("settings", {}), doc.get("runs", [])
    if not isinstance(settings, dict):
        raise PresetError(f"{path}: settings must be a table ([settings]).")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise PresetError(f"{path}: needs at least one [[runs]] table, each with a name.")
    try:
        shared = make_config(settings, base)
    except ConfigError as e:
        raise PresetError(f"{path}: [settings] {e}") from None
    try:
        seeds = from_toml(doc["seeds"]) if "seeds" in doc else ONE
    except ConfigError as e:
        raise PresetError(f"{path}: {e}") from None
    margin = doc.get("equivalence")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))
                               or not 0 < margin < 100):
        raise PresetError(f"{path}: equivalence = {margin!r} is not a margin; give points of test "
                          "accuracy between 0 and 100, e.g. equivalence = 1.0.")
    name = safe_name(str(doc.get("name", path.stem)), path.stem)  # an experiment folder's name, as --experiment
    return Preset(name, str(doc.get("description", "")),
                  tuple(_runs(path, runs, shared)), str(path), seeds,
                  float(margin) if margin is not None else None)


def _runs(path: Path, runs: list, shared: RunConfig):
    seen = set()
    for i, run in enumerate(runs, 1):
        values = dict(run)
        name = values.pop("name", None)
        if not isinstance(name, str) or not name.strip():
            raise PresetError(f"{path}: run {i} needs a name (name = \"...\").")
        name = safe_name(name)  # cleaned as --name is: a run folder's name, no markup or terminal escapes
        if name in seen:
            raise PresetError(f"{path}: two runs are named {name!r}; run names must differ.")
        seen.add(name)
        try:
            yield name, make_config(values, shared)
        except ConfigError as e:
            raise PresetError(f"{path}: run {name!r}: {e}") from None
