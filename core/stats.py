"""The statistics of a seeds comparison: mean ± sd of a group, Welch's t-test of two groups
with the 95% confidence interval of the difference of their means, and Holm's correction
over the groups compared with one baseline.

Welch's test and its interval come from scipy.stats (ttest_ind with equal_var=False, the
t distribution with Welch–Satterthwaite degrees of freedom). scipy has no Holm correction
(false_discovery_control is Benjamini–Hochberg), so `holm` is the four-line step-down.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

CONFIDENCE = 0.95
ALPHA = 0.05  # a Holm-adjusted p below this is a detectable difference


@dataclass(frozen=True)
class Spread:
    """Values over the seeds of a group: n, mean and sample sd (ddof = 1; None for one seed)."""
    n: int
    mean: float
    sd: float | None
    values: tuple = ()


def spread(values) -> Spread | None:
    """mean ± sd of `values`; None when there are none."""
    values = tuple(float(v) for v in values)
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else None
    return Spread(len(values), statistics.fmean(values), sd, values)


@dataclass(frozen=True)
class Welch:
    """Welch's two-sample t-test of a against b: delta = mean(a) - mean(b)."""
    delta: float
    low: float   # 95% confidence interval of delta
    high: float
    p: float     # two-sided; NaN when neither group varies
    df: float


def welch(a, b, confidence: float = CONFIDENCE) -> Welch | None:
    """Welch's t-test and the confidence interval of the difference of means; None unless
    both groups have at least two values (one value has no spread to test against)."""
    from scipy import stats

    a, b = [float(v) for v in a], [float(v) for v in b]
    if len(a) < 2 or len(b) < 2:
        return None
    delta = statistics.fmean(a) - statistics.fmean(b)
    if statistics.variance(a) == 0 and statistics.variance(b) == 0:
        return Welch(delta, delta, delta, math.nan, math.nan)  # no noise to measure: no test
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(confidence)
    return Welch(delta, float(ci.low), float(ci.high), float(result.pvalue), float(result.df))


def holm(pvalues) -> list[float]:
    """Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective multiple test
    procedure", Scand. J. Statist. 6:65-70): sort the m p-values, multiply the k-th smallest
    by (m - k + 1), keep the running maximum, cap at 1. NaN stays NaN and is not counted in m."""
    pvalues = [float(p) for p in pvalues]
    finite = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, running, out = len(finite), 0.0, list(pvalues)
    for k, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out
