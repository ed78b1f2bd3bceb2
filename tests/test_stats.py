"""core.stats and the tests and verdicts of core.verdicts, against values worked out independently
of the code: published worked examples (R's t.test output, Wikipedia's worked examples) and hand
computation."""
import math

import pytest

from core.stats import spread
from core.verdicts import adjust, t_test, verdict


class welch:
    """Welch's test of two groups with no seed in common (core.verdicts.t_test pairs shared seeds)."""

    def __init__(self, a, b):
        t = t_test([(k, v) for k, v in enumerate(a)], [(1000 + k, v) for k, v in enumerate(b)])
        assert t.kind == "Welch"
        self.delta, self.p, self.df = t.delta, t.p, t.df
        self.low, self.high = t.interval(0.95)


def test_mean_and_sample_sd_by_hand():
    # 2 4 4 4 5 5 7 9: sum 40, mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sd = sqrt(32/7)
    s = spread([2, 4, 4, 4, 5, 5, 7, 9])
    assert (s.n, s.mean) == (8, 5.0)
    assert s.sd == pytest.approx(2.138089935, abs=1e-9)
    one = spread([0.575])
    assert (one.n, one.mean, one.sd) == (1, 0.575, None)  # one seed has no spread
    assert spread([]) is None


def test_welch_matches_rs_t_test():
    # R:  t.test(c(11,9,10,11,10,12,9,11,12,9), c(11,13,10,13,12,9,11,12,12,11))
    #     Welch Two Sample t-test: t = -1.8325, df = 17.9, p-value = 0.08356
    #     95 percent confidence interval: -2.1469104  0.1469104; means 10.4 and 11.4
    w = welch([11, 9, 10, 11, 10, 12, 9, 11, 12, 9], [11, 13, 10, 13, 12, 9, 11, 12, 12, 11])
    assert w.delta == pytest.approx(-1.0)
    assert (w.low, w.high) == (pytest.approx(-2.1469104, abs=1e-6), pytest.approx(0.1469104, abs=1e-6))
    assert w.p == pytest.approx(0.08356, abs=5e-6)
    assert w.df == pytest.approx(17.9, abs=0.05)


def test_welch_matches_wikipedias_worked_example():
    # Wikipedia, "Student's t-test", worked example, unequal variances: the difference of the
    # means 0.095, standard error 0.04849, d.f. 7.031, t 1.959, two-tailed p 0.09077.
    a1 = [30.02, 29.99, 30.11, 29.97, 30.01, 29.99]
    a2 = [29.89, 29.93, 29.72, 29.98, 30.02, 29.98]
    w = welch(a1, a2)
    assert w.delta == pytest.approx(0.095, abs=1e-9)
    assert w.df == pytest.approx(7.031, abs=5e-4)
    assert w.p == pytest.approx(0.09077, abs=5e-5)
    # the interval is delta ± t(0.975, 7.031) · se, and a printed t table has t(0.975, 7) = 2.365
    # and t(0.975, 8) = 2.306: 7.031 d.f. lie between, just above 7
    half = (w.high - w.low) / 2
    assert 2.306 < half / 0.04849 < 2.365
    assert half / 0.04849 > 2.36


def test_welch_by_hand_with_two_degrees_of_freedom():
    # a = 1, 3 and b = 4, 6: means 2 and 5, variances 2 and 2, se = sqrt(2/2 + 2/2) = sqrt 2,
    # t = -3 / sqrt 2; Welch's d.f. = (1 + 1)^2 / (1/1 + 1/1) = 2.
    # With 2 d.f. the t distribution has a closed form, P(|T| > t) = 1 - t / sqrt(2 + t^2),
    # here 1 - (3/sqrt 2) / sqrt(2 + 9/2) = 1 - 3 / sqrt 13.
    # The 95% interval: -3 ± t(0.975, 2) · sqrt 2, with t(0.975, 2) = 4.302653 (t table).
    w = welch([1, 3], [4, 6])
    assert w.df == pytest.approx(2.0)
    assert w.p == pytest.approx(1 - 3 / math.sqrt(13), abs=1e-12)
    assert w.low == pytest.approx(-3 - 4.302653 * math.sqrt(2), abs=1e-5)
    assert w.high == pytest.approx(-3 + 4.302653 * math.sqrt(2), abs=1e-5)


def test_a_test_needs_two_seeds_a_side_and_some_spread():
    assert t_test([(4, 0.5)], [(4, 0.4), (5, 0.45)]) is None
    flat = t_test([(4, 0.1), (5, 0.1), (6, 0.1)], [(7, 0.1), (8, 0.1), (9, 0.1)])  # stuck at chance
    assert flat.delta == 0 and math.isnan(flat.p) and flat.interval(0.95) == (0, 0)


def test_bonferroni_by_hand():
    # four p-values, m = 4: each times 4, capped at 1; NaN and None (no test) are not counted in m
    assert adjust([0.01, 0.04, 0.03, 0.005]) == (pytest.approx([0.04, 0.16, 0.12, 0.02]), 4)
    out, m = adjust([0.3, math.nan, 0.7, None])
    assert m == 2 and out[0] == pytest.approx(0.6) and math.isnan(out[1]) and out[2] == 1.0 and out[3] is None


@pytest.mark.parametrize("lower, delta, p, n, n_base, expected", [
    (False, 0.05, 0.01, 5, 5, "better (paired, n = 5)"),
    (False, -0.05, 0.01, 3, 5, "worse (paired, n = 3 vs 5)"),
    (True, -0.2, 0.01, 3, 3, "better (paired, n = 3)"),    # a loss is better lower
    (True, 0.2, 0.01, 3, 3, "worse (paired, n = 3)"),
    (False, 0.05, 0.2, 3, 3, "no detectable difference (paired, n = 3)"),
    (False, 0.05, 0.01, 2, 3, "too few seeds for a verdict (n = 2 vs 3)"),  # p below 0.05, yet n = 2
    (False, 0.05, None, 1, 1, "too few seeds for a verdict (n = 1)"),
    (False, 0.05, math.nan, 3, 3, "no spread: no verdict (n = 3)"),
    (False, 0.0, math.nan, 3, 3, "identical on every seed (n = 3)"),
])
def test_verdicts(lower, delta, p, n, n_base, expected):
    assert verdict(lower, delta, p, n, n_base, "paired") == expected
