"""Compare runs the way the study reads TensorBoard: each group of seeds against its
reference group (its experiment's baseline, or the one the user picks), with the evidence.

Pure functions over run records (core.records.RunInfo) returning plain dataclasses, so the
CLI and the console's compare screen share them. Runs still training work too: read_metrics
drops a half-written last line. Each run and each group of seeds is summarized on its own
(core.summaries); here the groups get their reference, and against it the difference of
the means, its test, interval and verdict (core.verdicts); then sort keys and CSV rows.
tui.sentences words the result; core.findruns finds the run folders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from . import verdicts
from .curves import DEFAULT_WEIGHT, LOWER_IS_BETTER
from .groups import Group, group_runs
from .records import METRICS, RunInfo, read_run
from .summaries import VERDICT_METRIC, GroupSummary, RunSummary, summarize_group

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


class CompareError(ValueError):
    """Nothing (or nothing usable) to compare; the message says what to do."""


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
