"""Repeating runs over seeds: `--seeds N` / `--seeds 4,5,6` / `seeds = N` in a preset.

Each (run, seed) is its own complete run record, named `<run>-s<seed>` when a run is
repeated over several seeds (a run with one seed keeps its plain name, as before), and its
config.json names its group (the run's name), which core.groups reads back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from .config import ConfigError
from .job import Job

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Seeds:
    """How many seeds each run gets: `count` seeds from the run's own seed upward, or the
    explicit `values`."""
    count: int = 1
    values: tuple = ()

    def of(self, seed: int) -> list[int]:
        """The seeds of a run whose config says `seed`."""
        return list(self.values) if self.values else list(range(seed, seed + self.count))


ONE = Seeds()
_EXAMPLE = "e.g. --seeds 3 for three seeds from the run's seed upward, or --seeds 4,5,6"
_WHOLE = re.compile(r"-?[0-9]+")  # ASCII digits only: int() would also read "+3", "٣" or "1_0"


def parse_seeds(text: str, what: str = "--seeds") -> Seeds:
    """`--seeds` text: a count ("3") or a comma-separated list of seeds ("4,5,6")."""
    text = text.strip()
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if not all(_WHOLE.fullmatch(p) for p in parts):
            bad = next(p for p in parts if not _WHOLE.fullmatch(p))
            raise ConfigError(f"{what}: {bad!r} is not a seed; seeds are whole numbers ({_EXAMPLE}).")
        return seed_list([int(p) for p in parts], what)
    if not _WHOLE.fullmatch(text):
        raise ConfigError(f"{what}: {text!r} is neither a number of seeds nor a list of seeds ({_EXAMPLE}).")
    return seed_count(int(text), what)


def seed_count(n: int, what: str = "--seeds") -> Seeds:
    if n < 1:
        raise ConfigError(f"{what}: {n} seeds is too few; use 1 or more ({_EXAMPLE}).")
    if n > 10_000:
        raise ConfigError(f"{what}: {n} seeds is too many; use at most 10000.")
    return Seeds(count=n)


def seed_list(values: list[int], what: str = "--seeds") -> Seeds:
    for v in values:
        if not 0 <= v <= MAX_SEED:
            raise ConfigError(f"{what}: seed {v} is not allowed; seeds are whole numbers from 0 to 2**63-1.")
    twice = next((v for k, v in enumerate(values) if v in values[:k]), None)
    if twice is not None:
        raise ConfigError(f"{what}: seed {twice} is listed twice; each seed runs once, so list it once.")
    return Seeds(values=tuple(values))


def from_toml(value, what: str = "seeds") -> Seeds:
    """A preset's `seeds = N` or `seeds = [4, 5, 6]`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return seed_count(value, what)
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return seed_list(value, what)
    raise ConfigError(f"{what}: {value!r} is not allowed; give a number of seeds (seeds = 3) "
                      "or a list of seeds (seeds = [4, 5, 6]).")


def run_name(name: str, seed: int) -> str:
    """The folder name of one seed of a repeated run: baseline-s4."""
    return f"{name}-s{seed}"


def expand(runs, seeds: Seeds = ONE) -> list[Job]:
    """Every (run, seed) of `runs` ((name, RunConfig) pairs) as a Job, seed by seed: every run
    with its first seed, then every run with its second, and so on, so a queue stopped
    half-way leaves groups of nearly equal size. A run with a single seed keeps its name."""
    per_run = [(name, config, seeds.of(config.seed)) for name, config in runs]
    rounds = max((len(s) for _, _, s in per_run), default=0)
    jobs = []
    for k in range(rounds):
        for name, config, run_seeds in per_run:
            if k < len(run_seeds):
                seed = run_seeds[k]
                jobs.append(Job(name=name if len(run_seeds) == 1 else run_name(name, seed),
                                config=config.replace(seed=seed), group=name))
    return jobs


def more_seeds(name: str, config: dict, seeds) -> list[Job]:
    """Jobs that add `seeds` to the group `name` recorded with `config` (its config.json
    settings): the same settings, each seed in its own `<name>-s<seed>` folder."""
    from .config import FIELDS, make_config

    settings = make_config({k: v for k, v in config.items() if k in FIELDS})
    return [Job(name=run_name(name, s), config=settings.replace(seed=s), group=name) for s in seeds]
