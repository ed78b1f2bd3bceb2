"""Compare runs the way the study reads TensorBoard: last, smoothed and best values, the
generalization gap, where test loss starts rising, and each group of seeds against its
reference group (its experiment's baseline, or the one the user picks), with the evidence.

Pure functions over run records (core.records.RunInfo) returning plain dataclasses, so the
CLI and the console's compare screen share them. Runs still training work too: read_metrics
drops a half-written last line. Each run is summarized on its own (RunSummary), then the
seeds of one configuration together (GroupSummary, core.groups): n, mean ± sd, and against
the reference the difference of the means, its test, interval and verdict (core.verdicts).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import stats, verdicts
from .curves import DEFAULT_WEIGHT, LOWER_IS_BETTER, has_risen, series, summarize_metric
from .curves import group_curve, smooth  # noqa: F401  (tui.runview and tui.groupview still import them here)
from .groups import Group, group_runs, seed_of
from .records import METRICS, RunInfo, read_run

# --sort keys and which way is "best first": True = ascending
SORT_KEYS = {
    **{m: LOWER_IS_BETTER[m] for m in METRICS},
    **{f"best_{m}": LOWER_IS_BETTER[m] for m in METRICS},
    **{f"smoothed_{m}": LOWER_IS_BETTER[m] for m in METRICS},
    **{f"delta_{m}": LOWER_IS_BETTER[m] for m in METRICS},
    "gap": True, "onset": False, "rise": True, "epochs": False, "run": True,
    "n": False, "p": True, "verdict": True, "detectable": True, "seeds_needed": True,
}
SORT_HELP = ("train_loss, test_loss, train_acc, test_acc (also with a best_, smoothed_ or delta_ prefix), "
             "gap, onset, rise, epochs, run, n, p, verdict, detectable, seeds_needed")
VERDICT_METRIC = "test_acc"  # the metric the verdict column and the sentences judge


class CompareError(ValueError):
    """Nothing (or nothing usable) to compare; the message says what to do."""


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
        """A value by sort key (see SORT_KEYS); None when the run has none."""
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
        """A value by sort key (see SORT_KEYS): the mean over its seeds; None when it has none."""
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


@dataclass(frozen=True)
class Comparison:
    groups: tuple          # GroupSummary, in the order their first run was given
    baseline: str | None   # label of the reference group ("a, b" when each experiment has its own)
    weight: float
    picked: bool = False   # the user named the reference (else each experiment's baseline)
    difference: float | None = None  # the difference the user named (--delta), in metric units
    margin: float | None = None      # the equivalence margin (--equivalence), in metric units

    def reference_of(self, group: "GroupSummary") -> "GroupSummary | None":
        return next((g for g in self.groups if g.label == group.reference), None)

    @property
    def runs(self) -> tuple:
        """Every run (seed) compared, group by group."""
        return tuple(r for g in self.groups for r in g.runs)

    def sorted(self, key: str) -> list:
        """The groups, best first by `key`."""
        return sort_runs(self.groups, key)


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


def pick_baseline(groups: list[Group]) -> int | None:
    """Index of the baseline group: the one labelled, else named, 'baseline'; else the first."""
    if not groups:
        return None
    for attr in (lambda g: g.label, lambda g: g.name):
        for k, g in enumerate(groups):
            if attr(g) == "baseline":
                return k
    return 0


def references(groups: list[Group], baseline: str | None = None, one: bool = False) -> dict[int, int]:
    """Group index -> its reference's index: `baseline` (a group label) for every group when
    given, else each experiment's own baseline (core.compare.pick_baseline within it); with
    `one`, a single baseline for all (run folders the user listed: the first, or 'baseline')."""
    labels = [g.label for g in groups]
    if one and baseline is None and groups:
        return dict.fromkeys(range(len(groups)), pick_baseline(groups))
    if baseline is not None:
        if baseline not in labels:
            raise CompareError(f"no run {baseline!r} to use as the reference; the runs are: {', '.join(labels)}.")
        return {k: labels.index(baseline) for k in range(len(groups))}
    out = {}
    for experiment in dict.fromkeys(g.experiment for g in groups):
        members = [k for k, g in enumerate(groups) if g.experiment == experiment]
        base = members[pick_baseline([groups[k] for k in members])]
        out.update({k: base for k in members})
    return out


def compare(infos: list[RunInfo], weight: float = DEFAULT_WEIGHT, baseline: str | None = None,
            difference: float | None = None, margin: float | None = None, one_reference: bool = False) -> Comparison:
    """The groups of seeds in `infos` (in the order their first run is given), each against
    its experiment's baseline group (the one named 'baseline', else its first), or against
    `baseline` (a group label) when given. `difference` (--delta) and `margin`
    (--equivalence) are in the verdict metric's units (accuracy: 0.01 = 1 point)."""
    groups = group_runs(infos)
    refs = references(groups, baseline, one_reference)
    if not groups:
        return Comparison((), None, weight, baseline is not None, difference, margin)
    run_labels = dict(zip(map(id, infos), _labels(infos)))
    summaries = [summarize_group(g, weight, run_labels) for g in groups]
    out = [replace(s, is_baseline=refs[k] == k, reference="" if refs[k] == k else summaries[refs[k]].label)
           for k, s in enumerate(summaries)]
    out = _with_contrasts(out, refs, difference, margin)
    out = [_with_run_deltas(g, out[refs[k]]) for k, g in enumerate(out)]
    names = ", ".join(dict.fromkeys(out[r].label for r in refs.values()))
    return Comparison(tuple(out), names, weight, baseline is not None, difference, margin)


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


def _with_contrasts(groups: list, refs: dict, difference=None, margin=None) -> list:
    """Each group against its reference on each metric (core.verdicts); the correction runs
    over the groups tested, one metric at a time. Only the verdict metric (test accuracy)
    gets the named difference and the equivalence test."""
    contrasts: dict[int, dict] = {}
    for m in METRICS:
        items = {}
        for k, g in enumerate(groups):
            base = groups[refs[k]]
            if g.is_baseline or m not in g.metrics or m not in base.metrics:
                continue
            items[k] = (verdicts.values(g, m), verdicts.values(base, m), verdicts.blocked(g, base),
                        verdicts.dropped(g))
        judged = m == VERDICT_METRIC
        found = verdicts.contrasts(m, LOWER_IS_BETTER[m], items, difference if judged else None,
                                   margin if judged else None, verdicts.margin_words(margin) if judged else "")
        for k, c in found.items():
            contrasts.setdefault(k, {})[m] = c
    return [replace(g, contrasts=contrasts.get(k, {})) for k, g in enumerate(groups)]


def _with_run_deltas(group: GroupSummary, base: GroupSummary) -> GroupSummary:
    """Each seed's last values minus its reference group's means."""
    runs = tuple(replace(r, is_baseline=group.is_baseline,
                         delta={m: r.metrics[m].last - base.metrics[m].last.mean
                                for m in METRICS if m in r.metrics and m in base.metrics})
                 for r in group.runs)
    return replace(group, runs=runs)


def _labels(infos: list[RunInfo]) -> list[str]:
    """Run folder names, qualified by experiment where two would read the same."""
    names = [i.path.name for i in infos]
    return [f"{i.path.parent.name}/{n}" if names.count(n) > 1 else n for i, n in zip(infos, names)]


def as_row(run: RunSummary) -> dict:
    """The flat summary of one run (seed): one CSV row; None where the run has no value."""
    row = {"run": run.label, "experiment": run.experiment, "group": run.group, "seed": run.seed,
           "status": run.status, "epochs": run.epochs, "baseline": run.is_baseline,
           "left_out": run.left_out}
    for m in METRICS:
        s = run.metrics.get(m)
        row[m] = s.last if s else None
        row[f"smoothed_{m}"] = s.smoothed if s else None
        row[f"best_{m}"] = s.best if s else None
        row[f"best_{m}_epoch"] = s.best_epoch if s else None
        row[f"delta_{m}"] = run.delta.get(m)
    row.update(gap=run.gap, onset=run.onset, rise=run.rise, path=str(run.path))
    return row


def as_group_row(group: GroupSummary) -> dict:
    """The flat summary of a group (one CSV row): n, mean and sd of each value, and against
    its reference the difference, the test (paired / Welch), its adjusted interval and p,
    the smallest detectable difference, the seeds a named one needs and the verdict."""
    row = {"group": group.label, "experiment": group.experiment, "n": group.n,
           "seeds": " ".join(str(s) for s in group.seeds), "status": group.status,
           "baseline": group.is_baseline, "reference": group.reference, "verdict": group.verdict,
           "left_out": "; ".join(f"{label}: {why}" for label, _, why in group.dropped)}
    for m in METRICS:
        gm, c = group.metrics.get(m), group.contrasts.get(m)
        for kind in ("last", "smoothed", "best", "best_epoch"):
            s = getattr(gm, kind) if gm else None
            name = {"last": m, "best_epoch": f"best_{m}_epoch"}.get(kind, f"{kind}_{m}")
            row[f"{name}_mean"] = s.mean if s else None
            row[f"{name}_sd"] = s.sd if s else None
        row[f"delta_{m}"] = c.delta if c else None
        row[f"test_{m}"] = c.kind if c else None
        row[f"delta_{m}_ci_level"] = c.confidence if c else None
        row[f"delta_{m}_ci_low"] = c.low if c else None
        row[f"delta_{m}_ci_high"] = c.high if c else None
        row[f"p_{m}"] = c.p if c else None
        row[f"p_bonferroni_{m}"] = c.p_adj if c else None
        row[f"detectable_{m}"] = c.detectable if c else None
        if m == VERDICT_METRIC:
            row[f"seeds_needed_{m}"] = c.needed if c else None
            row[f"equivalence_p_{m}"] = c.equivalence_p if c else None
    for attr in ("gap", "onset", "rise"):
        s = getattr(group, attr)
        row[f"{attr}_mean"] = s.mean if s else None
        row[f"{attr}_sd"] = s.sd if s else None
    return row


def sort_runs(runs, key: str) -> list:
    """Best first by `key` (a SORT_KEYS entry); runs (or groups) without that value go last."""
    if key not in SORT_KEYS:
        raise CompareError(f"cannot sort by {key!r}; sort by one of: {SORT_HELP}.")
    ascending = SORT_KEYS[key]
    have = [r for r in runs if _sortable(r.value(key))]
    missing = [r for r in runs if not _sortable(r.value(key))]
    return sorted(have, key=lambda r: r.value(key), reverse=not ascending) + missing


def _sortable(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


# --- reading run folders --------------------------------------------------------------

def load(paths: list[Path]) -> list[RunInfo]:
    return [read_run(p) for p in paths]


def compare_paths(paths: list[Path], weight: float = DEFAULT_WEIGHT, baseline: str | None = None,
                  difference: float | None = None, margin: float | None = None,
                  one_reference: bool = False) -> Comparison:
    """Read and compare run folders (core.compare.compare); CompareError when none has a
    finished epoch."""
    infos = load(paths)
    if not any(i.metrics for i in infos):
        raise CompareError(nothing_to_compare(infos))
    return compare(infos, weight, baseline, difference, margin, one_reference)


def nothing_to_compare(infos: list[RunInfo]) -> str:
    """Why runs without a finished epoch among them cannot be compared, and what to do."""
    names = ", ".join(i.path.name for i in infos)
    if infos and all(i.status == "diverged" for i in infos):
        return (f"nothing to compare: every run diverged before its first epoch ended ({names}); "
                "start them again with a lower learning rate (lr).")
    damaged = [i for i in infos if i.status == "damaged"]
    if len(infos) == 1 and damaged:
        return f"nothing to compare: {damaged[0].message}"
    if damaged:
        return (f"nothing to compare in {names}: {len(damaged)} of the {len(infos)} runs "
                f"{'has' if len(damaged) == 1 else 'have'} a damaged record, e.g. {damaged[0].message}")
    return f"no finished epoch to compare yet in {names}; wait for the first epoch to end (metrics.jsonl is empty)."
