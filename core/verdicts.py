"""What a group of seeds may be said to do against its reference, and on what evidence.

One metric at a time, each group against its reference group:
- groups trained to a different recipe (epochs, data fraction, data set) or still training
  are not tested: "not comparable (5 vs 3 epochs)", "unfinished (epoch 2 of 5)";
- the test is paired by seed (scipy.stats.ttest_rel) when both groups hold the same seeds,
  which share initialisation and data order, and Welch's (ttest_ind, equal_var=False) else;
- p-values and intervals carry the same correction, Bonferroni over the m groups tested
  (statsmodels' multipletests): the interval is the (1 - 0.05/m) one, so it excludes 0
  exactly when the adjusted p is below 0.05 (Holm has no intervals that go with it);
- a verdict needs MIN_SEEDS seeds a side; every row says the smallest difference its seeds
  could detect (80% power at the verdict's alpha, the noncentral t as statsmodels'
  TTestPower / TTestIndPower use it, from the observed sd) and, for a difference the user
  names, the seeds it would take;
- with an equivalence margin, a two one-sided test (ttost_paired / ttost_ind, same pairing,
  same correction) says "equivalent within ±M" or "not shown equivalent".
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

ALPHA = 0.05
POWER = 0.8
MIN_SEEDS = 3
RECIPE = ("dataset", "epochs", "train_fraction")  # what must match for two groups to be compared
MAX_SEEDS = 10_000  # beyond this "how many seeds" is answered as "more than 10000"


@dataclass(frozen=True)
class TTest:
    """A t-test of a group against its reference: delta = mean(a) - mean(b)."""
    kind: str      # "paired" (by seed) or "Welch"
    delta: float
    p: float       # two-sided, unadjusted; NaN when nothing varies
    df: float
    sd: float      # the sd power analysis uses: of the per-seed differences (paired), else pooled
    n: int
    n_base: int
    result: object = field(default=None, repr=False, compare=False)  # scipy's, for its interval

    def interval(self, confidence: float) -> tuple[float, float]:
        if self.result is None:  # no spread: the difference is exact
            return self.delta, self.delta
        ci = self.result.confidence_interval(confidence)
        return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Contrast:
    """A group against its reference on one metric's last value."""
    metric: str
    delta: float                # difference of the means (group - reference)
    low: float | None           # its interval at `confidence`; None without a test
    high: float | None
    p: float | None             # the test's two-sided p-value
    p_adj: float | None         # Bonferroni-adjusted over the `m` groups tested
    n: int
    n_base: int
    verdict: str
    kind: str = ""              # "paired" / "Welch"; "" without a test
    m: int = 0
    confidence: float | None = None   # of the interval: 1 - 0.05/m
    detectable: float | None = None   # smallest difference these seeds detect with 80% power
    needed: int | None = None         # seeds per group a named difference would take
    equivalence_p: float | None = None  # TOST p, adjusted like p
    margin: float | None = None


def paired_values(a, b):
    """(x, y) aligned by seed when `a` and `b` ((seed, value) pairs) hold the same seeds, each
    once; else None."""
    seeds_a, seeds_b = [s for s, _ in a], [s for s, _ in b]
    if None in seeds_a or len(set(seeds_a)) != len(seeds_a) or sorted(seeds_a) != sorted(seeds_b):
        return None
    by_seed = dict(b)
    order = sorted(a)
    return [float(v) for _, v in order], [float(by_seed[s]) for s, _ in order]


def t_test(a, b) -> TTest | None:
    """Paired by seed when a and b hold the same seeds, else Welch; None unless both sides
    have at least two values."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    pairs = paired_values(a, b)
    if pairs is not None:
        x, y = pairs
        diffs = [u - v for u, v in zip(x, y)]
        delta, sd = statistics.fmean(diffs), statistics.stdev(diffs)
        if sd == 0:
            return TTest("paired", delta, math.nan, len(x) - 1, 0.0, len(x), len(y))
        r = stats.ttest_rel(x, y)
        return TTest("paired", delta, float(r.pvalue), float(r.df), sd, len(x), len(y), r)
    x, y = [float(v) for _, v in a], [float(v) for _, v in b]
    delta = statistics.fmean(x) - statistics.fmean(y)
    va, vb = statistics.variance(x), statistics.variance(y)
    pooled = math.sqrt(((len(x) - 1) * va + (len(y) - 1) * vb) / (len(x) + len(y) - 2))
    if va == 0 and vb == 0:
        return TTest("Welch", delta, math.nan, math.nan, 0.0, len(x), len(y))
    r = stats.ttest_ind(x, y, equal_var=False)
    return TTest("Welch", delta, float(r.pvalue), float(r.df), pooled, len(x), len(y), r)


def adjust(pvalues) -> tuple[list, int]:
    """Bonferroni-adjusted p-values (NaN and None pass through, uncounted) and m, the number
    of tests they were adjusted over."""
    from statsmodels.stats.multitest import multipletests

    finite = [k for k, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    out = list(pvalues)
    if finite:
        adjusted = multipletests([pvalues[k] for k in finite], method="bonferroni")[1]
        for k, p in zip(finite, adjusted):
            out[k] = float(p)
    return out, len(finite)


def alpha(m: int) -> float:
    """The per-test alpha the verdict uses over m tests."""
    return ALPHA / max(m, 1)


MAX_EFFECT = 50.0  # in sd: past this every test here has all the power it can get


def power(kind: str, effect: float, n: int, n_base: int, m: int) -> float:
    """Power of the two-sided t-test (paired: n pairs; else n and n_base seeds) for an effect
    in sd at the verdict's alpha. statsmodels' TTestPower / TTestIndPower compute the same
    sum of the noncentral t's two tails, but return NaN once the far tail underflows (e.g. 2
    seeds, effect 5.5); here an underflowed far tail counts as the 0 it is."""
    from scipy import stats

    if kind == "paired":
        df, ncp = n - 1, effect * math.sqrt(n)
    else:
        df, ncp = n + n_base - 2, effect * math.sqrt(n * n_base / (n + n_base))
    crit = stats.t.isf(alpha(m) / 2, df)
    far = stats.nct.cdf(-crit, df, ncp)
    return float(stats.nct.sf(crit, df, ncp)) + (0.0 if math.isnan(far) else float(far))


def detectable(test: TTest, m: int) -> float | None:
    """The smallest |difference| these seeds detect with 80% power at the verdict's alpha,
    from the observed sd (bisection on the power, which rises with the effect); None without
    spread, or beyond MAX_EFFECT sd."""
    if not test.sd or not math.isfinite(test.sd):
        return None
    if power(test.kind, MAX_EFFECT, test.n, test.n_base, m) < POWER:
        return None
    low, high = 0.0, MAX_EFFECT
    while high - low > 1e-6:
        mid = (low + high) / 2
        low, high = (low, mid) if power(test.kind, mid, test.n, test.n_base, m) >= POWER else (mid, high)
    return high * test.sd


def seeds_needed(test: TTest, difference: float, m: int) -> int | None:
    """Seeds per group (pairs, when paired) to detect `difference` with 80% power at the
    verdict's alpha, from the observed sd: the fewest whole seeds (at least MIN_SEEDS) whose
    power reaches 80%; None without spread; MAX_SEEDS + 1 beyond reach."""
    if not test.sd or not math.isfinite(test.sd) or not difference:
        return None
    effect = abs(difference) / test.sd

    def enough(n: int) -> bool:
        return power(test.kind, min(effect, MAX_EFFECT), n, n, m) >= POWER

    low, high = MIN_SEEDS, MIN_SEEDS
    while not enough(high):  # double until enough, then halve the gap
        if high > MAX_SEEDS:
            return MAX_SEEDS + 1
        low, high = high + 1, high * 2
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid + 1, high)
    return high


def equivalence_p(a, b, margin: float) -> float | None:
    """The two one-sided tests' p that the difference of means lies within ±margin: paired
    by seed when a and b hold the same seeds, else Welch; None without two values a side."""
    import numpy as np
    from statsmodels.stats.weightstats import ttost_ind, ttost_paired

    if len(a) < 2 or len(b) < 2:
        return None
    pairs = paired_values(a, b)
    if pairs is not None:
        x, y = map(np.asarray, pairs)
        if np.all(x - y == (x - y)[0]):  # no spread: exactly inside or outside
            return 0.0 if abs((x - y)[0]) < margin else 1.0
        return float(ttost_paired(x, y, -margin, margin)[0])
    x, y = np.asarray([v for _, v in a], float), np.asarray([v for _, v in b], float)
    if x.var() == 0 and y.var() == 0:
        return 0.0 if abs(x.mean() - y.mean()) < margin else 1.0
    return float(ttost_ind(x, y, -margin, margin, usevar="unequal")[0])


def contrasts(metric: str, lower_is_better: bool, items: dict, difference: float | None = None,
              margin: float | None = None, margin_text: str = "") -> dict:
    """Each group against its reference on one metric. `items`: key -> (a, b, blocked,
    dropped), a and b the (seed, last value) pairs of the group and its reference, blocked
    what stops a test ('' when nothing does), dropped the words for its seeds left out.
    Returns key -> Contrast; the correction runs over the groups tested."""
    tests = {k: (None if why else t_test(a, b)) for k, (a, b, why, _) in items.items()}
    adjusted, m = adjust([t.p if t else None for t in tests.values()])
    eq = {}
    if margin is not None:
        raw = {k: equivalence_p(a, b, margin) for k, (a, b, why, _) in items.items() if not why}
        eq = dict(zip(raw, adjust(list(raw.values()))[0]))
    out = {}
    for (k, (a, b, why, lost)), p_adj in zip(items.items(), adjusted):
        t = tests[k]
        delta = statistics.fmean(v for _, v in a) - statistics.fmean(v for _, v in b)
        n, n_base = len(a), len(b)
        level = 1 - alpha(m)
        low, high = t.interval(level) if t else (None, None)
        equivalent = equivalence_words(eq.get(k), margin_text, n, n_base) if margin is not None else ""
        out[k] = Contrast(
            metric, delta, low, high, t.p if t else None, p_adj if t else None, n, n_base,
            verdict(lower_is_better, delta, p_adj if t else None, n, n_base, t.kind if t else "",
                    why, equivalent, lost),
            t.kind if t else "", m, level if t else None, detectable(t, m) if t else None,
            seeds_needed(t, difference, m) if t and difference else None, eq.get(k), margin)
    return out


# --- what stops a test ----------------------------------------------------------------

def recipe_difference(config: dict, base: dict) -> str:
    """'' when the two configs share the recipe; else what differs, e.g. '5 vs 3 epochs'."""
    out = []
    for key in RECIPE:
        a, b = config.get(key), base.get(key)
        if a is None or b is None or a == b:
            continue
        out.append(f"{a} vs {b} epochs" if key == "epochs" else f"{key} {a} vs {b}")
    return ", ".join(out)


def unfinished(last_epoch, epochs, base_last_epoch, base_epochs, finished: bool, base_finished: bool) -> str:
    """'' when both are finished; else which is still training and where it is."""
    if not finished:
        return f"unfinished (epoch {last_epoch or 0} of {epochs or '?'})"
    if not base_finished:
        return f"reference unfinished (epoch {base_last_epoch or 0} of {base_epochs or '?'})"
    return ""


def dropped_words(statuses, seeds: int) -> str:
    """'1 of 3 diverged' for the seeds left out (their statuses) out of `seeds`."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    parts = [f"{n} {s}" for s, n in counts.items()]
    if not parts:
        return ""
    parts[0] = parts[0].replace(" ", f" of {seeds} ", 1)
    return ", ".join(parts)


# --- from a group summary (core.summaries.GroupSummary) -----------------------------------

def margin_words(margin) -> str:
    """An accuracy margin in points: 0.01 -> '1 point'."""
    if margin is None:
        return ""
    points = margin * 100
    return f"{points:g} point{'s' * (points != 1)}"


def values(group, metric: str) -> list:
    """(seed, last value) of each seed its statistics use."""
    return [(r.seed, r.metrics[metric].last) for r in group.used if metric in r.metrics]


def blocked(group, base) -> str:
    """Why the group cannot be tested against its reference: a different recipe, or still training."""
    differs = recipe_difference(group.config, base.config)
    if differs:
        return f"not comparable ({differs})"
    return unfinished(group.last_epoch, group.config.get("epochs"), base.last_epoch,
                      base.config.get("epochs"), group.finished, base.finished)


def dropped(group) -> str:
    """'1 of 3 diverged': the seeds left out because they failed, diverged or stopped (a
    seed recorded twice is not a seed lost)."""
    lost = [r.status for r in group.runs if r.left_out and "ran twice" not in r.left_out]
    seeds = len([r for r in group.runs if "ran twice" not in r.left_out])
    return dropped_words(lost, seeds)


# --- the verdict ------------------------------------------------------------------------

def verdict(lower_is_better: bool, delta: float, p_adj, n: int, n_base: int, kind: str,
            blocked: str = "", equivalent: str = "", dropped: str = "") -> str:
    """better / worse (adjusted p below 0.05, in the metric's good direction) or no
    detectable difference; what blocks a verdict instead; then the equivalence result and
    the seeds left out, e.g. 'better (paired, n = 5); 1 of 6 diverged'."""
    seeds = f"n = {n}" if n == n_base else f"n = {n} vs {n_base}"
    if blocked:
        text = blocked
    elif min(n, n_base) < MIN_SEEDS:
        text = f"too few seeds for a verdict ({seeds})"
    elif p_adj is None or math.isnan(p_adj):
        text = f"identical on every seed ({seeds})" if delta == 0 else f"no spread: no verdict ({seeds})"
    elif p_adj < ALPHA:
        better = (delta < 0) == lower_is_better
        text = f"{'better' if better else 'worse'} ({kind}, {seeds})"
    else:
        text = f"no detectable difference ({kind}, {seeds})"
    return "; ".join(t for t in (text, equivalent if not blocked else "", dropped) if t)


def equivalence_words(p_adj, margin_text: str, n: int, n_base: int) -> str:
    """The equivalence result in words; '' without a test or below MIN_SEEDS a side."""
    if p_adj is None or min(n, n_base) < MIN_SEEDS:
        return ""
    return f"equivalent within ±{margin_text}" if p_adj < ALPHA else f"not shown equivalent (±{margin_text})"


RANK = {"better": 0, "baseline": 1, "reference": 1, "equivalent": 1, "no detectable difference": 2,
        "identical on every seed": 2, "worse": 9}


def rank(text: str) -> int:
    """Sort order of a verdict: better first, worse last, no verdict after both."""
    head = text.split(";")[0].split(" (")[0]
    return RANK.get(head, 10)


def seeds_to_add(seeds, ref_seeds, target: int) -> tuple[list, list]:
    """(seeds the group lacks, seeds its reference lacks) so that both hold the same seeds,
    at least `target` of them: the other's seeds first, then new ones above all of them."""
    seeds, ref_seeds = [s for s in seeds if s is not None], [s for s in ref_seeds if s is not None]
    wanted = sorted(set(seeds) | set(ref_seeds))
    nxt = max(wanted, default=-1) + 1
    while len(wanted) < target:
        wanted.append(nxt)
        nxt += 1
    return [s for s in wanted if s not in seeds], [s for s in wanted if s not in ref_seeds]
