"""Groups of seeds: the records of one configuration repeated over seeds, read back as one.

A group is keyed by (experiment, group name, settings). The group name is config.json's
"group" (the run's name, shared by its seeds); records from before seeds existed name none
and are each a group of their own, under their folder name. The settings are the run's
config without seed, device and data_dir, so two runs that share a name but not their
settings never mix.

Within a group the statistics use one record per seed (a seed run twice counts once: the
finished, else the newer, record) and only finished seeds once any seed has finished;
failed and diverged seeds are left out, each with the reason.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from .config import FIELDS, ConfigError, make_config
from .records import METRICS, RunInfo

IGNORED = ("seed", "device", "data_dir")  # may differ between the seeds of one group
FINISHED = ("finished", "unknown")        # unknown: a status file without a status


def group_name(info: RunInfo) -> str:
    return info.group or info.path.name


def seed_of(info: RunInfo) -> int | None:
    seed = info.config.get("seed")
    return seed if isinstance(seed, int) else None


def settings_key(config: dict) -> tuple:
    """The settings that make a configuration (defaults filled in, so records written before
    a setting existed match those written after)."""
    given = {k: v for k, v in config.items() if k in FIELDS and k not in IGNORED}
    try:
        given = make_config(given).to_dict()
    except ConfigError:
        pass  # a damaged config: compare it as written
    return tuple(sorted((k, repr(v)) for k, v in given.items() if k not in IGNORED))


def key_of(experiment: str, group: str, config: dict) -> tuple:
    """What runs of one group share: experiment, group name and settings (seeds aside)."""
    return experiment, group, settings_key(config)


def group_key(info: RunInfo) -> tuple:
    return key_of(info.experiment, group_name(info), info.config)


@dataclass(frozen=True)
class Group:
    experiment: str
    name: str
    label: str      # unique among the groups compared
    runs: tuple     # every RunInfo of the group, in seed order
    used: tuple     # the RunInfo its statistics use
    dropped: tuple  # (RunInfo, reason) for each record left out

    @property
    def finished(self) -> bool:
        """Its statistics are over finished seeds (not seeds still training)."""
        return bool(self.used) and all(i.status in FINISHED for i in self.used)


def group_runs(infos) -> list[Group]:
    """The groups of `infos`, in the order their first record appears."""
    keyed: dict[tuple, list[RunInfo]] = {}
    for info in infos:
        keyed.setdefault(group_key(info), []).append(info)
    labels = _labels(list(keyed.items()))
    groups = []
    for (experiment, name, _), label in zip(keyed, labels):
        runs = sorted(keyed[experiment, name, _], key=lambda i: (seed_of(i) is None, seed_of(i) or 0))
        used, dropped = choose(runs)
        groups.append(Group(experiment, name, label, tuple(runs), tuple(used), tuple(dropped)))
    return groups


def _labels(keyed: list) -> list[str]:
    """The group name; the first record's folder name where one experiment has two groups of
    that name (different settings); then experiment/label where two experiments share it."""
    names = [(exp, name) for (exp, name, _), _ in keyed]
    labels = [name if names.count((exp, name)) == 1 else runs[0].path.name
              for ((exp, name, _), runs) in keyed]
    return [f"{exp}/{lab}" if labels.count(lab) > 1 else lab for (exp, _), lab in zip(names, labels)]


def choose(runs) -> tuple[list, list]:
    """(records the statistics use, [(record, why it is left out)])."""
    kept, dropped = _one_per_seed(runs)
    usable = []
    for info in kept:
        if info.status in ("failed", "diverged"):
            why = info.status + (f": {info.cause}" if info.cause else "")
            dropped.append((info, why))
        elif not info.metrics:
            dropped.append((info, f"no finished epoch ({info.status})"))
        elif not all(math.isfinite(info.metrics[-1][m]) for m in METRICS if m in info.metrics[-1]):
            dropped.append((info, "diverged: NaN or infinite values in its last epoch"))
        else:
            usable.append(info)
    if any(i.status in FINISHED for i in usable):
        for info in [i for i in usable if i.status not in FINISHED]:
            dropped.append((info, f"{info.status} after {len(info.metrics)} epoch(s)"))
        usable = [i for i in usable if i.status in FINISHED]
    return usable, dropped


def _one_per_seed(runs) -> tuple[list, list]:
    """A seed recorded twice (the same run started twice) counts once: its finished record,
    else its newest (the later in `runs`)."""
    best: dict = {}
    for k, info in enumerate(runs):
        seed = seed_of(info)
        rank = (info.status in FINISHED, k)
        if seed is None:
            best[id(info)] = (rank, info)
        elif seed not in best or rank > best[seed][0]:
            best[seed] = (rank, info)
    kept_ids = {id(info) for _, info in best.values()}
    kept = [i for i in runs if id(i) in kept_ids]
    by_seed = {seed_of(i): i for i in kept}
    dropped = [(i, f"seed {seed_of(i)} ran twice; {by_seed[seed_of(i)].path.name} counts")
               for i in runs if id(i) not in kept_ids]
    return kept, dropped


# --- curves -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """A group's curve: per epoch, the mean, sd (None with one seed), min and max over the
    seeds that have reached that epoch, and how many they are."""
    epochs: tuple
    mean: tuple
    sd: tuple
    low: tuple
    high: tuple
    n: tuple


def band(curves) -> Band:
    """Mean and spread of (epochs, values) curves, one per seed; a seed still training
    counts up to its last epoch. Non-finite values (a diverged seed) are left out."""
    at: dict[int, list[float]] = {}
    for epochs, values in curves:
        for e, v in zip(epochs, values):
            if math.isfinite(v):
                at.setdefault(int(e), []).append(float(v))
    rows = [(e, at[e]) for e in sorted(at)]
    return Band(tuple(e for e, _ in rows),
                tuple(statistics.fmean(v) for _, v in rows),
                tuple(statistics.stdev(v) if len(v) > 1 else None for _, v in rows),
                tuple(min(v) for _, v in rows), tuple(max(v) for _, v in rows),
                tuple(len(v) for _, v in rows))
