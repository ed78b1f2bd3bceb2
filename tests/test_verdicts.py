"""core.verdicts and the comparisons built on it: the right test (paired by seed / Welch),
intervals adjusted like p, too few seeds, power, equivalence, the reference, unlike recipes,
unfinished and failed seeds. Numbers are checked against values computed outside the code:
R's t.test output on the sleep data, G*Power / Cohen's power tables, t-table quantiles."""
import json
import math
import random

import numpy as np
import pytest

from core.compare import as_group_row, compare_paths
from core.config import make_config
from core.findruns import experiment_runs
from core.presets import PresetError, load_file
from core.seeds import more_seeds
from core.verdicts import (TTest, adjust, contrasts, detectable, equivalence_p, power, seeds_needed,
                           seeds_to_add, t_test)
from tui.cli import main
from tui.sentences import sentence

# R's `sleep` data set (Student 1908): extra sleep of 10 patients under two drugs
DRUG1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
DRUG2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def seeded(values, first=0):
    return [(first + k, v) for k, v in enumerate(values)]


# --- the test -----------------------------------------------------------------------------

def test_same_seeds_are_paired_as_rs_paired_t_test():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE)
    # t = -4.0621, df = 9, p-value = 0.002833; 95 percent CI -2.4598858 -0.7001142; mean difference -1.58
    t = t_test(seeded(DRUG1), seeded(DRUG2))
    assert t.kind == "paired" and t.df == 9
    assert t.delta == pytest.approx(-1.58)
    assert t.p == pytest.approx(0.002833, abs=5e-7)
    assert t.interval(0.95) == pytest.approx((-2.4598858, -0.7001142), abs=1e-6)


def test_seeds_in_another_order_still_pair():
    shuffled = list(reversed(seeded(DRUG2)))
    assert t_test(seeded(DRUG1), shuffled).p == pytest.approx(0.002833, abs=5e-7)


def test_different_seeds_get_welch_as_rs_t_test():
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent CI -3.3654832 0.2054832
    t = t_test(seeded(DRUG1), seeded(DRUG2, first=100))
    assert t.kind == "Welch"
    assert t.df == pytest.approx(17.776, abs=1e-3) and t.p == pytest.approx(0.07939, abs=5e-6)
    assert t.interval(0.95) == pytest.approx((-3.3654832, 0.2054832), abs=1e-6)
    # a seed listed twice, or a seed missing, is not a pairing either
    assert t_test(seeded(DRUG1)[:9], seeded(DRUG2)).kind == "Welch"


def test_intervals_carry_the_same_bonferroni_correction_as_p():
    # two groups tested (m = 2): p doubles and the interval is the 97.5% one. By hand from R's
    # paired output: se = 1.58 / 4.0621 = 0.38896; t(0.9875, 9 df) = 2.685 (t table), so
    # -1.58 ± 1.0444 = [-2.624, -0.536]
    items = {k: (seeded(DRUG2), seeded(DRUG1), "", "") for k in ("a", "b")}
    found = contrasts("x", False, items)
    for c in found.values():
        assert (c.kind, c.m, c.confidence) == ("paired", 2, pytest.approx(0.975))
        assert c.p_adj == pytest.approx(2 * 0.002833, abs=1e-6)
        assert (c.low, c.high) == pytest.approx((0.536, 2.624), abs=2e-3)
    assert adjust([0.01, None, math.nan, 0.3]) == ([0.02, None, pytest.approx(math.nan, nan_ok=True), 0.6], 2)


def test_an_interval_that_excludes_zero_never_stands_beside_no_detectable_difference():
    rng = random.Random(19)
    seen = set()
    for _ in range(300):
        m, n = rng.randint(1, 4), rng.randint(3, 6)
        shift = rng.choice([0.0, 0.5, 1.0, 2.0])
        paired = rng.random() < 0.5
        base = [(s, rng.gauss(0, 1)) for s in range(n)]
        items = {}
        for k in range(m):
            seeds = range(n) if paired else range(10 * (k + 1), 10 * (k + 1) + n)
            items[k] = ([(s, v + shift + rng.gauss(0, 0.7)) for s, (_, v) in zip(seeds, base)], base, "", "")
        for c in contrasts("test_acc", False, items).values():
            excludes = c.low > 0 or c.high < 0
            verdict = c.verdict.split(" (")[0]
            seen.add((excludes, verdict))
            assert excludes == (verdict in ("better", "worse")), c
            assert (c.p_adj < 0.05) == excludes
    assert {(True, "better"), (False, "no detectable difference")} <= seen  # both cases were met


# --- power --------------------------------------------------------------------------------

def test_seeds_needed_match_gpower_and_cohens_tables():
    # G*Power 3.1, two-tailed, alpha 0.05, power 0.80: one-sample/paired d = 1 -> n = 10,
    # d = 0.5 -> 34 pairs; two independent groups d = 1 -> 17 per group, d = 0.5 -> 64 (Cohen 1988, table 2.4.1)
    paired, welch = TTest("paired", 0.0, 0.5, 9, 1.0, 10, 10), TTest("Welch", 0.0, 0.5, 18, 1.0, 10, 10)
    assert [seeds_needed(paired, d, 1) for d in (1.0, 0.5)] == [10, 34]
    assert [seeds_needed(welch, d, 1) for d in (1.0, 0.5)] == [17, 64]
    assert seeds_needed(paired, 10.0, 1) == 3  # a huge difference still needs 3 seeds for a verdict
    assert seeds_needed(TTest("paired", 0.0, math.nan, 2, 0.0, 3, 3), 1.0, 1) is None  # no spread: unknown
    # sd 2 points and a 1-point difference: the effect is 0.5, so 34 pairs again
    assert seeds_needed(TTest("paired", 0.0, 0.5, 9, 0.02, 10, 10), 0.01, 1) == 34


def test_power_is_statsmodels_where_statsmodels_answers_and_a_number_where_it_does_not():
    from statsmodels.stats.power import TTestIndPower, TTestPower

    answered = 0
    for n in (2, 3, 5, 10, 40):
        for effect in (0.2, 0.5, 1.0, 2.0, 4.0, 8.0):
            for m in (1, 3):
                theirs = (TTestPower().power(effect_size=effect, nobs=n, alpha=0.05 / m),
                          TTestIndPower().power(effect_size=effect, nobs1=n, alpha=0.05 / m, ratio=1.0))
                for kind, want in zip(("paired", "Welch"), theirs):
                    if not math.isnan(want):
                        answered += 1
                        assert power(kind, effect, n, n, m) == pytest.approx(want, abs=1e-12)
    assert answered > 100
    # two pairs, effect 5.5 sd: statsmodels says NaN (the far tail underflows). Simulated instead:
    # T = (Z + 5.5 sqrt 2) / sqrt(chi2_1) beyond t(0.975, 1) = 12.706 (t table), 400,000 draws
    assert math.isnan(TTestPower().power(effect_size=5.5, nobs=2, alpha=0.05))
    rng = np.random.default_rng(19)
    t = (rng.standard_normal(400_000) + 5.5 * math.sqrt(2)) / np.sqrt(rng.chisquare(1, 400_000))
    assert power("paired", 5.5, 2, 2, 1) == pytest.approx(np.mean(np.abs(t) > 12.706), abs=0.005)


def test_smallest_detectable_difference_inverts_the_tables():
    # the same tables read the other way: 64 a side detect d = 0.5, 34 pairs d = 0.5 (to table rounding)
    assert detectable(TTest("Welch", 0.0, 0.5, 126, 2.0, 64, 64), 1) == pytest.approx(1.0, abs=0.01)
    assert detectable(TTest("paired", 0.0, 0.5, 33, 2.0, 34, 34), 1) == pytest.approx(1.0, abs=0.01)
    # a stricter alpha (Bonferroni over 3) needs a larger difference
    assert detectable(TTest("paired", 0.0, 0.5, 33, 2.0, 34, 34), 3) > 1.1


# --- equivalence ----------------------------------------------------------------------------

def test_equivalence_is_the_90_percent_interval_inside_the_margin():
    # paired sleep differences: mean -1.58, se 0.38896, 9 df; t(0.95, 9) = 1.833 (t table), so the
    # 90% interval is [-2.293, -0.867]: inside ±2.30, not inside ±2.28
    assert equivalence_p(seeded(DRUG1), seeded(DRUG2), 2.30) < 0.05
    assert equivalence_p(seeded(DRUG1), seeded(DRUG2), 2.28) > 0.05
    # unpaired (Welch, 17.776 df): se = 1.58 / 1.8608 = 0.8491, t(0.95, 17.8) = 1.735: [-3.053, -0.107]
    far = seeded(DRUG2, first=100)
    assert equivalence_p(seeded(DRUG1), far, 3.07) < 0.05 < equivalence_p(seeded(DRUG1), far, 3.03)


# --- whole comparisons from hand-made records -------------------------------------------

def write_seed(logdir, experiment, group, seed, test_acc, status="finished", **settings):
    path = logdir / experiment / f"{group}-s{seed}"
    path.mkdir(parents=True)
    config = make_config({"dataset": "synthetic", "seed": seed, "epochs": 5, **settings}).to_dict()
    (path / "config.json").write_text(json.dumps({"experiment": experiment, "run": path.name,
                                                  "group": group, "config": config}))
    rows = [{"epoch": e + 1, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 2 - a, "test_acc": a}
            for e, a in enumerate(test_acc)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "status.json").write_text(json.dumps({"status": status, "message": ""}))
    return path


def five(last):
    """Five epochs ending at `last`."""
    return [0.1, 0.2, 0.3, 0.4, last]


def groups(logdir, *experiments, **kw):
    paths = [p for e in experiments for p in experiment_runs(logdir / e)]
    c = compare_paths(paths, **kw)
    return c, {g.label: g for g in c.groups}


def test_each_experiment_is_compared_with_its_own_baseline(tmp_path):
    for exp, base, other in (("a", [0.50, 0.52, 0.51], [0.60, 0.61, 0.63]),
                             ("b", [0.80, 0.81, 0.79], [0.80, 0.82, 0.79])):
        for seed, (x, y) in enumerate(zip(base, other), start=4):
            write_seed(tmp_path, exp, "baseline", seed, five(x))
            write_seed(tmp_path, exp, "other", seed, five(y))
    c, g = groups(tmp_path, "a", "b")
    assert g["a/other"].reference == "a/baseline" and g["b/other"].reference == "b/baseline"
    assert g["a/other"].contrasts["test_acc"].delta == pytest.approx(0.1033333, abs=1e-6)
    assert g["b/other"].contrasts["test_acc"].delta == pytest.approx(0.0033333, abs=1e-6)
    assert g["a/baseline"].is_baseline and g["b/baseline"].is_baseline
    # the user picks one reference for all
    c, g = groups(tmp_path, "a", "b", baseline="b/baseline")
    assert c.picked and {x.reference for x in c.groups if not x.is_baseline} == {"b/baseline"}
    assert g["a/baseline"].contrasts["test_acc"].delta == pytest.approx(0.51 - 0.80, abs=1e-9)


def test_shared_seeds_pair_and_say_so(tmp_path):
    for seed, (x, y) in enumerate(zip([0.50, 0.60, 0.70], [0.52, 0.63, 0.71]), start=4):
        write_seed(tmp_path, "x", "baseline", seed, five(x))
        write_seed(tmp_path, "x", "new", seed, five(y))
    c, g = groups(tmp_path, "x")
    new = g["new"]
    # differences 0.02, 0.03, 0.01: mean 0.02, sd 0.01, se 0.005774, t = 3.464 on 2 df;
    # two-sided p = 1 - t / sqrt(t^2 + 2) for 2 df = 0.0742; Welch would see p ~ 0.8
    assert new.contrasts["test_acc"].p == pytest.approx(1 - 3.4641 / math.sqrt(3.4641 ** 2 + 2), abs=1e-4)
    assert new.verdict == "no detectable difference (paired, n = 3)"
    assert as_group_row(new)["test_test_acc"] == "paired"
    assert "(paired by seed; 95% CI)" in sentence(new, g["baseline"])


def test_different_recipes_are_not_comparable(tmp_path):
    for seed in (4, 5, 6):
        write_seed(tmp_path, "x", "baseline", seed, five(0.5 + seed / 100))
        write_seed(tmp_path, "x", "short", seed, [0.3, 0.4, 0.6 + seed / 100], epochs=3)
        write_seed(tmp_path, "x", "less-data", seed, five(0.9), train_fraction=0.2)
    _, g = groups(tmp_path, "x")
    assert g["short"].verdict == "not comparable (3 vs 5 epochs)"
    assert g["less-data"].verdict == "not comparable (train_fraction 0.2 vs 0.5)"
    c = g["short"].contrasts["test_acc"]
    assert c.p is None and c.low is None and c.delta == pytest.approx(0.1)  # the numbers, no test


def test_unfinished_groups_get_no_verdict(tmp_path):
    for seed in (4, 5, 6):
        write_seed(tmp_path, "x", "baseline", seed, five(0.5 + seed / 100))
        write_seed(tmp_path, "x", "live", seed, [0.3, 0.9], status="running")
    _, g = groups(tmp_path, "x")
    assert g["live"].verdict == "unfinished (epoch 2 of 5)"
    _, g = groups(tmp_path, "x", baseline="live")
    assert g["baseline"].verdict == "reference unfinished (epoch 2 of 5)"


def test_two_seeds_get_numbers_but_no_verdict(tmp_path):
    for seed, (x, y) in enumerate(zip([0.50, 0.51], [0.80, 0.82]), start=4):
        write_seed(tmp_path, "x", "baseline", seed, five(x))
        write_seed(tmp_path, "x", "new", seed, five(y))
    _, g = groups(tmp_path, "x")
    c = g["new"].contrasts["test_acc"]
    assert c.p_adj < 0.05 and c.low > 0  # a clear difference by the numbers ...
    assert g["new"].verdict == "too few seeds for a verdict (n = 2)"  # ... but two seeds are no verdict


def test_no_spread_prints_no_zero_interval(tmp_path):
    for seed in (4, 5, 6):
        write_seed(tmp_path, "x", "baseline", seed, five(0.50))
        write_seed(tmp_path, "x", "same", seed, five(0.50))
        write_seed(tmp_path, "x", "up", seed, five(0.55))
    _, g = groups(tmp_path, "x")
    assert g["same"].verdict == "identical on every seed (n = 3)"
    assert g["up"].verdict == "no spread: no verdict (n = 3)"
    text = sentence(g["up"], g["baseline"])
    assert "Test accuracy 5.0 points over baseline (paired by seed; no spread across seeds, so no interval)" in text
    assert "± 0.0" not in text and "CI" not in text


def test_dropped_seeds_are_named_in_the_verdict_and_a_repeated_seed_is_not(tmp_path):
    for seed, (x, y) in enumerate(zip([0.50, 0.51, 0.52, 0.50], [0.70, 0.72, 0.71, 0.7]), start=4):
        write_seed(tmp_path, "x", "baseline", seed, five(x))
        write_seed(tmp_path, "x", "new", seed, five(y) if seed != 7 else [0.3, math.nan],
                   status="finished" if seed != 7 else "diverged")
    again = write_seed(tmp_path, "x", "baseline", 99, five(0.50))  # seed 4 once more, in another folder
    (again / "config.json").write_text((tmp_path / "x" / "baseline-s4" / "config.json").read_text())
    _, g = groups(tmp_path, "x")
    assert g["new"].verdict == "better (Welch, n = 3 vs 4); 1 of 4 diverged"
    assert g["baseline"].n == 4 and sum("ran twice" in r.left_out for r in g["baseline"].runs) == 1


def test_a_group_whose_seeds_all_failed_says_what_they_logged(tmp_path):
    for seed in (4, 5, 6):
        write_seed(tmp_path, "x", "baseline", seed, five(0.5))
    write_seed(tmp_path, "x", "broken", 4, [0.2, 0.25], status="failed")
    _, g = groups(tmp_path, "x")
    assert sentence(g["broken"], g["baseline"]) == (
        "No seed to compare (failed); they logged: broken-s4 failed after 2 epochs, last test accuracy 0.250.")


def test_equivalence_margin_and_named_difference_reach_the_rows(tmp_path):
    for seed, (x, y) in enumerate(zip([0.50, 0.60, 0.70, 0.55], [0.501, 0.602, 0.699, 0.551]), start=4):
        write_seed(tmp_path, "x", "baseline", seed, five(x))
        write_seed(tmp_path, "x", "twin", seed, five(y))
    _, g = groups(tmp_path, "x", margin=0.01, difference=0.01)
    c = g["twin"].contrasts["test_acc"]
    assert g["twin"].verdict == "no detectable difference (paired, n = 4); equivalent within ±1 point"
    assert c.needed == 3 and c.detectable < 0.01
    _, g = groups(tmp_path, "x", margin=0.001)
    assert g["twin"].verdict.endswith("; not shown equivalent (±0.1 points)")


def test_seeds_to_add_make_both_groups_hold_the_same_seeds():
    assert seeds_to_add([4, 5], [4, 5, 6], 3) == ([6], [])
    assert seeds_to_add([4], [5], 4) == ([5, 6, 7], [4, 6, 7])
    assert seeds_to_add([4, 5, 6], [4, 5, 6], 3) == ([], [])
    jobs = more_seeds("dropout", make_config({"regularizer": "dropout", "seed": 4}).to_dict(), [7, 8])
    assert [(j.name, j.config.seed, j.group, j.config.regularizer) for j in jobs] == [
        ("dropout-s7", 7, "dropout", "dropout"), ("dropout-s8", 8, "dropout", "dropout")]


# --- the command line and the preset --------------------------------------------------------

def test_cli_baseline_delta_and_equivalence(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    for seed, (x, y) in enumerate(zip([0.50, 0.60, 0.70], [0.52, 0.63, 0.71]), start=4):
        write_seed(tmp_path, "x", "baseline", seed, five(x))
        write_seed(tmp_path, "x", "new", seed, five(y))
    assert main(["compare", "x", "--logdir", str(tmp_path), "--baseline", "new", "--delta", "1",
                 "--equivalence", "5"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "new (the reference you picked)" in out and "Bonferroni" in out
    assert "baseline: Test accuracy 2.0 ± 2.5 points under new (paired by seed; 95% CI)" in out
    assert "1.0 points would take " in out and "equivalent within ±5 points" in out
    for args, said in ((["--baseline", "nope"], "no run 'nope' to use as the reference"),
                       (["--delta", "lots"], "--delta: 'lots' is not a number of points"),
                       (["--equivalence", "0"], "--equivalence: '0' is not a number of points")):
        assert main(["compare", "x", "--logdir", str(tmp_path), *args]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1


def test_precision_check_names_its_equivalence_margin(tmp_path):
    assert load_file("presets/precision-check.toml").equivalence == 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text('equivalence = "small"\n[[runs]]\nname = "a"\n')
    with pytest.raises(PresetError, match="equivalence = 'small' is not a margin"):
        load_file(bad)
