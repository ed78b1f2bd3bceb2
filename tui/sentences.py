"""The comparison in words: each group against its reference (the difference, its evidence
and verdict, what its seeds could detect, best accuracy, overfitting onset, gap), for the
`compare` printout, the Markdown report and the console's compare screen.

core.compare returns the values; this module only words them.
"""
from __future__ import annotations

import math

from core import stats, verdicts
from core.summaries import VERDICT_METRIC, GroupSummary
from core.verdicts import Contrast

LABELS = {"train_loss": "train loss", "test_loss": "test loss",
          "train_acc": "train accuracy", "test_acc": "test accuracy"}


def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _mean(s: stats.Spread, digits: int = 3) -> str:
    """'0.575' for one seed, '0.575 ± 0.012' for several."""
    if s.sd is None:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} in every seed" if s.sd == 0 else f"{s.mean:.{digits}f} ± {s.sd:.{digits}f}"


def _seeds(c: Contrast) -> str:
    if c.n == c.n_base:
        return "one seed each" if c.n == 1 else f"{c.n} seeds each"
    return f"{c.n} seed{'s' * (c.n > 1)} vs {c.n_base}"


def _size(c: Contrast, value: float) -> str:
    """A difference in the metric's words: accuracy in points (hundredths), loss as is."""
    return f"{value * 100:.1f} points" if c.metric.endswith("acc") else f"{value:.3f}"


def evidence(c: Contrast, base_label: str) -> str:
    """The difference and its evidence in words, e.g. 'test accuracy 2.1 ± 0.6 points over
    baseline (paired by seed, 95% CI and p Bonferroni-adjusted over 2), p = 0.003, 5 seeds
    each'. The sign is in the words (over/under, lower/higher), never a bare minus."""
    accuracy = c.metric.endswith("acc")
    size = _size(c, abs(c.delta))
    if accuracy:
        way = "over" if c.delta >= 0 else "under"
    else:
        way = "lower than" if c.delta <= 0 else "higher than"
    if c.low is not None and c.high > c.low:
        half = _size(c, (c.high - c.low) / 2)
        size = f"{size.split()[0]} ± {half}"
    text = f"{LABELS[c.metric]} {size} {way} {base_label}"
    if c.kind:
        how = "paired by seed" if c.kind == "paired" else "Welch, seeds not paired"
        if c.low is not None and c.high > c.low:
            adj = (f"; {c.confidence:.1%} CI and p Bonferroni-adjusted over {c.m} runs" if c.m > 1
                   else "; 95% CI")
            text += f" ({how}{adj})"
        else:
            text += f" ({how}; no spread across seeds, so no interval)"
    if c.p_adj is not None and not math.isnan(c.p_adj):
        text += f", {fmt_p(c.p_adj)}"
    return f"{text}, {_seeds(c)}"


def power_words(c: Contrast, difference: float | None) -> str:
    """What the seeds could have found: the smallest detectable difference and, for a named
    difference, the seeds it takes."""
    parts = []
    if c.detectable is not None:
        parts.append(f"these seeds detect a difference of {_size(c, c.detectable)} or more (80% power)")
    if difference and c.needed is not None:
        many = f"more than {verdicts.MAX_SEEDS}" if c.needed > verdicts.MAX_SEEDS else str(c.needed)
        parts.append(f"detecting {_size(c, difference)} would take {many} seeds a side")
    return "; ".join(parts)


def sentence(group: GroupSummary, base: GroupSummary | None, difference: float | None = None) -> str:
    """A group against its reference in words: the evidence and the verdict, what its seeds
    could detect, then the best accuracy, the overfitting onset and the gap (means over its seeds)."""
    if not group.metrics:
        return _nothing_logged(group)
    parts = []
    if group.is_baseline:
        ta = group.metrics.get(VERDICT_METRIC)
        parts.append("the reference" + (f": test accuracy {_mean(ta.last)} over {group.n} seeds (mean ± sd)"
                                        if ta and group.n > 1 else ""))
    elif base is not None and VERDICT_METRIC in group.contrasts:
        c = group.contrasts[VERDICT_METRIC]
        epochs = (f" (epoch {group.last_epoch} vs {base.last_epoch})"
                  if group.last_epoch != base.last_epoch else "")
        parts.append(f"{evidence(c, base.label)}{epochs}: {_verdict_words(c)}")
        if power := power_words(c, difference):
            parts.append(power)
    if VERDICT_METRIC in group.metrics:
        ta = group.metrics[VERDICT_METRIC]
        at = (f"epoch {ta.best_epoch.mean:g}" if not ta.best_epoch.sd
              else f"epoch {ta.best_epoch.mean:.1f} on average")
        parts.append(f"best test accuracy {_mean(ta.best)} at {at}")
    parts += _onset_words(group)
    if group.gap is not None:
        parts.append(f"train-test accuracy gap {group.gap.mean:+.3f}")
    text = "; ".join(parts)
    if group.n == 1 and group.status not in ("finished", "unknown"):
        text += f" ({group.status})"
    text += _left_out(group)
    return text[0].upper() + text[1:] + "."


def _nothing_logged(group: GroupSummary) -> str:
    """A group none of whose seeds the statistics can use: what its seeds logged."""
    logged = [r for r in group.runs if r.epochs]
    if not logged:
        return f"No finished epoch yet ({group.status})."
    what = "; ".join(f"{r.label} {r.status} after {r.epochs} epoch{'s' * (r.epochs != 1)}"
                     + (f", last test accuracy {r.metrics['test_acc'].last:.3f}" if "test_acc" in r.metrics else "")
                     for r in logged)
    return f"No seed to compare ({group.status}); they logged: {what}."


def _verdict_words(c: Contrast) -> str:
    head, *rest = c.verdict.split("; ")
    if head.startswith("too few seeds"):
        head += " (repeat it over more seeds, e.g. --seeds 5)"
    return "; ".join([head, *rest])


def _onset_words(group: GroupSummary) -> list[str]:
    onset, rise = group.onset, group.rise
    if onset is None or rise is None:
        return []
    if onset.n == 1:
        return [f"test loss bottoms at epoch {onset.mean:g} then rises {rise.mean:.3f}" if rise.mean > 0
                else f"test loss still falling at epoch {onset.mean:g}"]
    rising = sum(1 for v in rise.values if v > 0)
    if not rising:
        return ["test loss still falling at the last epoch in every seed"]
    at = f"{onset.mean:g}" if not onset.sd else f"{onset.mean:.1f} on average"
    return [f"test loss bottoms at epoch {at} and has risen since in "
            f"{rising} of {onset.n} seeds (by {rise.mean:.3f} on average)"]


def _left_out(group: GroupSummary) -> str:
    if not group.dropped:
        return ""
    why = ", ".join(f"{label} ({reason})" for label, _, reason in group.dropped)
    return f"; {len(group.dropped)} of its {len(group.runs)} runs left out: {why}"
