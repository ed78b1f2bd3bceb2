"""What one run and one group of seeds come to, as values: per run the last, smoothed and
best value of each metric, the generalization gap and where test loss bottoms out; per group
(core.groups) n, mean and sd of those over the seeds it uses, and its status.

core.compare puts the groups side by side and adds each one's contrasts with its reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from . import stats, verdicts
from .curves import DEFAULT_WEIGHT, has_risen, series, summarize_metric
from .groups import Group, seed_of
from .records import METRICS, RunInfo

VERDICT_METRIC = "test_acc"  # the metric the verdict column and the sentences judge


@dataclass(frozen=True)
class RunSummary:
    label: str               # unique within the comparison (run folder, or experiment/run)
    experiment: str
    path: Path
    status: str
    epochs: int              # finished epochs on record
    last_epoch: int | None
    metrics: dict            # metric -> MetricSummary (only metrics with values)
    gap: float | None        # train_acc - test_acc at the last epoch
    onset: int | None        # epoch of minimum test loss
    rise: float | None       # last test loss - minimum test loss
    is_baseline: bool = False  # one of the baseline group's seeds
    delta: dict = field(default_factory=dict)  # metric -> last value - the baseline group's mean
    rows: tuple = field(default=(), repr=False)  # the metrics.jsonl rows, for curves and CSV
    group: str = ""           # label of its group
    seed: int | None = None
    left_out: str = ""        # why its group's statistics leave it out ("" when they use it)

    @property
    def overfits(self) -> bool:
        """Test loss has bottomed out before the last epoch and risen clearly since."""
        loss = self.metrics.get("test_loss")
        return loss is not None and has_risen(loss.best, loss.last)

    def value(self, key: str):
        """A value by sort key (see core.compare.SORT_KEYS); None when the run has none."""
        if key == "run":
            return self.label
        if key in ("gap", "onset", "rise", "epochs"):
            return getattr(self, key)
        kind, metric = _split_key(key)
        m = self.metrics.get(metric)
        if m is None:
            return None
        return {"": m.last, "best": m.best, "smoothed": m.smoothed}[kind]


def _split_key(key: str) -> tuple[str, str]:
    """'best_test_acc' -> ('best', 'test_acc'); 'test_acc' -> ('', 'test_acc')."""
    for prefix in ("best", "smoothed", "delta"):
        if key.startswith(prefix + "_"):
            return prefix, key[len(prefix) + 1:]
    return "", key


@dataclass(frozen=True)
class GroupMetric:
    """One metric over the seeds of a group (core.stats.Spread: n, mean, sd)."""
    last: stats.Spread
    smoothed: stats.Spread
    best: stats.Spread
    best_epoch: stats.Spread


@dataclass(frozen=True)
class GroupSummary:
    """The seeds of one configuration together: what a row of the comparison shows."""
    label: str                 # unique within the comparison
    experiment: str
    name: str                  # the group's name (the run's name, shared by its seeds)
    runs: tuple                # RunSummary of every seed, left-out ones included
    metrics: dict              # metric -> GroupMetric, over the seeds used
    gap: stats.Spread | None
    onset: stats.Spread | None
    rise: stats.Spread | None
    status: str                # finished, or what its seeds are doing ("1 running, 1 diverged")
    finished: bool             # its statistics are over finished seeds
    is_baseline: bool = False  # a reference other groups are compared with
    contrasts: dict = field(default_factory=dict)  # metric -> Contrast (not for a reference)
    config: dict = field(default_factory=dict, repr=False)  # its first seed's settings
    reference: str = ""        # label of the group it is compared with ("" for a reference)

    @property
    def used(self) -> list:
        return [r for r in self.runs if not r.left_out]

    @property
    def n(self) -> int:
        return len(self.used)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.used]

    @property
    def dropped(self) -> list:
        """(run label, seed, reason) of the seeds its statistics leave out."""
        return [(r.label, r.seed, r.left_out) for r in self.runs if r.left_out]

    @property
    def epochs(self) -> int | None:
        """Finished epochs of its seeds (the fewest, when they differ)."""
        return min((r.epochs for r in self.used), default=None)

    @property
    def last_epoch(self) -> int | None:
        return min((r.last_epoch for r in self.used if r.last_epoch is not None), default=None)

    @property
    def verdict(self) -> str:
        if self.is_baseline:
            return "reference"
        c = self.contrasts.get(VERDICT_METRIC)
        return c.verdict if c else ""

    def value(self, key: str):
        """A value by sort key (see core.compare.SORT_KEYS): the mean over its seeds; None when it has none."""
        if key == "run":
            return self.label
        if key == "n":
            return self.n
        if key == "epochs":
            return self.epochs
        if key in ("gap", "onset", "rise"):
            s = getattr(self, key)
            return s.mean if s else None
        if key == "p":
            c = self.contrasts.get(VERDICT_METRIC)
            return c.p_adj if c else None
        if key == "verdict":
            return verdicts.rank(self.verdict) if self.n else None
        if key in ("detectable", "seeds_needed"):
            c = self.contrasts.get(VERDICT_METRIC)
            return (c.detectable if key == "detectable" else c.needed) if c else None
        kind, metric = _split_key(key)
        if kind == "delta":
            c = self.contrasts.get(metric)
            return c.delta if c else (0.0 if self.is_baseline and metric in self.metrics else None)
        m = self.metrics.get(metric)
        if m is None:
            return None
        return {"": m.last, "best": m.best, "smoothed": m.smoothed}[kind].mean


def summarize(info: RunInfo, weight: float = DEFAULT_WEIGHT, label: str | None = None) -> RunSummary:
    """One run's summary from its record."""
    metrics = {}
    for m in METRICS:
        s = summarize_metric(*series(info.metrics, m), m, weight)
        if s is not None:
            metrics[m] = s
    last = info.metrics[-1] if info.metrics else {}
    gap = None
    if isinstance(last.get("train_acc"), (int, float)) and isinstance(last.get("test_acc"), (int, float)):
        gap = last["train_acc"] - last["test_acc"]
    test_loss = metrics.get("test_loss")
    onset = test_loss.best_epoch if test_loss else None
    rise = test_loss.last - test_loss.best if test_loss else None
    return RunSummary(label or info.path.name, info.experiment, info.path, info.status,
                      len(info.metrics), last.get("epoch"), metrics, gap, onset, rise,
                      rows=tuple(info.metrics))


def summarize_group(group: Group, weight: float, run_labels: dict) -> GroupSummary:
    """A group's statistics over the seeds it uses (core.groups.choose)."""
    why = {id(info): reason for info, reason in group.dropped}
    runs = tuple(replace(summarize(i, weight, run_labels.get(id(i))), group=group.label,
                         seed=seed_of(i), left_out=why.get(id(i), "")) for i in group.runs)
    used = [r for r in runs if not r.left_out]
    metrics = {}
    for m in METRICS:
        have = [r.metrics[m] for r in used if m in r.metrics]
        if have:
            metrics[m] = GroupMetric(*(stats.spread(getattr(s, a) for s in have)
                                       for a in ("last", "smoothed", "best", "best_epoch")))

    def over(attr):
        return stats.spread(v for v in (getattr(r, attr) for r in used) if v is not None)

    config = (group.used or group.runs)[0].config if group.runs else {}
    return GroupSummary(group.label, group.experiment, group.name, runs, metrics,
                        over("gap"), over("onset"), over("rise"), _status(runs), group.finished,
                        config=config if isinstance(config, dict) else {})


def _status(runs) -> str:
    """'finished' when every seed is; else how many seeds are in which state."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.status] = counts.get(r.status, 0) + 1
    if set(counts) <= {"finished", "unknown"}:
        return "finished"
    if len(runs) == 1:
        return runs[0].status
    return ", ".join(f"{n} {status}" for status, n in counts.items() if status not in ("finished", "unknown"))
