"""Groups of seeds: how records group back (old records, names shared across settings, a seed
run twice, failed seeds), the band a chart draws, Holm over the groups, and the verdicts of
real training on synthetic data."""
import json
import math

import pytest

from core import data as data_mod
from core.compare import compare, compare_paths
from core.config import make_config
from core.findruns import experiment_runs
from core.groups import band
from core.records import read_metrics, read_run
from cpu import one_thread
from tui.cli import main
from tui.sentences import sentence


def write_seed(logdir, experiment, folder, test_acc, group=None, seed=4, status="finished", **settings):
    """A run folder written by hand; `group` None writes a record as made before seeds existed."""
    path = logdir / experiment / folder
    path.mkdir(parents=True)
    meta = {"experiment": experiment, "run": folder,
            "config": make_config({"dataset": "synthetic", "seed": seed, **settings}).to_dict()}
    if group is not None:
        meta["group"] = group
    (path / "config.json").write_text(json.dumps(meta))
    rows = [{"epoch": e + 1, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 2 - a, "test_acc": a}
            for e, a in enumerate(test_acc)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "status.json").write_text(json.dumps({"status": status, "message": "",
                                                  "cause": "oom" if status == "failed" else ""}))
    return path


def groups_of(logdir, experiment):
    return compare_paths(experiment_runs(logdir / experiment)).groups


def test_records_from_before_seeds_are_one_seed_groups_under_their_folder_names(tmp_path):
    write_seed(tmp_path, "x", "baseline", [0.5])
    write_seed(tmp_path, "x", "baseline-2", [0.6])  # the same run started twice, before seeds
    groups = groups_of(tmp_path, "x")
    assert [(g.label, g.n) for g in groups] == [("baseline", 1), ("baseline-2", 1)]
    assert groups[1].verdict == "too few seeds for a verdict (n = 1)"


def test_one_name_with_two_settings_is_two_groups(tmp_path):
    write_seed(tmp_path, "x", "run", [0.5], group="run", lr=0.01)
    write_seed(tmp_path, "x", "run-2", [0.6], group="run", lr=0.1)
    write_seed(tmp_path, "x", "run-3", [0.7], group="run", seed=5, lr=0.1, device="cpu")  # seed, device: same group
    groups = groups_of(tmp_path, "x")
    assert [(g.label, g.seeds) for g in groups] == [("run", [4]), ("run-2", [4, 5])]


def test_a_seed_run_twice_counts_once_and_failed_seeds_are_left_out_with_the_reason(tmp_path):
    write_seed(tmp_path, "x", "baseline", [0.50], group="baseline", seed=4)
    write_seed(tmp_path, "x", "baseline-2", [0.52], group="baseline", seed=4)  # started again
    write_seed(tmp_path, "x", "l2-s4", [0.60], group="l2", seed=4)
    write_seed(tmp_path, "x", "l2-s5", [0.62], group="l2", seed=5)
    write_seed(tmp_path, "x", "l2-s6", [0.10], group="l2", seed=6, status="failed")
    write_seed(tmp_path, "x", "l2-s7", [float("nan")], group="l2", seed=7, status="diverged")
    write_seed(tmp_path, "x", "l2-s8", [0.30], group="l2", seed=8, status="stopped")
    base, l2 = groups_of(tmp_path, "x")
    assert base.seeds == [4] and base.metrics["test_acc"].last.mean == 0.52  # the newer record
    assert base.dropped == [("baseline", 4, "seed 4 ran twice; baseline-2 counts")]
    assert l2.seeds == [4, 5] and l2.metrics["test_acc"].last.mean == pytest.approx(0.61)
    assert l2.dropped == [("l2-s6", 6, "failed: oom"), ("l2-s7", 7, "diverged"),
                          ("l2-s8", 8, "stopped after 1 epoch(s)")]
    assert l2.status == "1 failed, 1 diverged, 1 stopped"
    assert sentence(l2, base).endswith("; 3 of its 5 runs left out: l2-s6 (failed: oom), "
                                       "l2-s7 (diverged), l2-s8 (stopped after 1 epoch(s)).")


def test_a_group_still_training_gets_no_verdict(tmp_path):
    for s, a in zip((4, 5), (0.5, 0.52)):
        write_seed(tmp_path, "x", f"baseline-s{s}", [a], group="baseline", seed=s)
        write_seed(tmp_path, "x", f"new-s{s}", [a + 0.3], group="new", seed=s, status="stopped")
    _, new = groups_of(tmp_path, "x")
    assert new.n == 2 and new.verdict == "unfinished (epoch 1 of 40)"


def test_bonferroni_runs_over_the_groups_tested(tmp_path):
    base = [0.50, 0.52, 0.51]
    twin = [0.55, 0.58, 0.56]  # two groups with the same values have the same raw p ...
    for s, (b, t) in enumerate(zip(base, twin), start=4):
        write_seed(tmp_path, "x", f"baseline-s{s}", [b], group="baseline", seed=s)
        write_seed(tmp_path, "x", f"a-s{s}", [t], group="a", seed=s)
        write_seed(tmp_path, "x", f"b-s{s}", [t], group="b", seed=s)
    _, a, b = groups_of(tmp_path, "x")
    # same seeds: paired. Differences 0.05, 0.06, 0.05: mean 0.05333, sd 0.005774, se 0.003333,
    # t = 16 on 2 df, where the two-sided p is 1 - t / sqrt(t^2 + 2) (closed form for 2 df)
    raw = 1 - 16 / math.sqrt(16 ** 2 + 2)
    for g in (a, b):
        c = g.contrasts["test_acc"]
        assert c.kind == "paired" and c.m == 2
        assert c.p == pytest.approx(raw, rel=1e-6) and c.p_adj == pytest.approx(2 * raw, rel=1e-6)
        assert c.delta == pytest.approx(0.0533333, abs=1e-6) and c.n == c.n_base == 3


def test_band_is_the_mean_and_spread_per_epoch_over_the_seeds_that_have_it():
    # seed A: 1, 2, 3; seed B: 3, 4 (still training); seed C diverged at epoch 2
    b = band([([1, 2, 3], [1.0, 2.0, 3.0]), ([1, 2], [3.0, 4.0]), ([1, 2], [2.0, float("nan")])])
    assert b.epochs == (1, 2, 3) and b.n == (3, 2, 1)
    assert b.mean == pytest.approx((2.0, 3.0, 3.0))
    assert b.sd[0] == pytest.approx(1.0) and b.sd[1] == pytest.approx(2 ** 0.5) and b.sd[2] is None
    assert (b.low, b.high) == ((1.0, 2.0, 3.0), (3.0, 4.0, 3.0))


def test_seed_folders_follow_the_presets_order(tmp_path):
    for run in ("augmentation+normalization", "baseline"):  # written in the other order
        for s in (4, 5):
            write_seed(tmp_path, "quick-demo", f"{run}-s{s}", [0.5], group=run, seed=s)
    assert [g.label for g in groups_of(tmp_path, "quick-demo")] == ["baseline", "augmentation+normalization"]


# --- verdicts of real training (synthetic data, a few small epochs) -------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Run a preset through the CLI on 1,000 synthetic images; returns the experiment's groups."""
    images = data_mod.synthetic(1000, 200)

    def run(text: str, *args):
        folder = tmp_path_factory.mktemp("seeds")
        preset = folder / "study.toml"
        preset.write_text(text)
        with pytest.MonkeyPatch.context() as mp, one_thread():
            mp.setattr("core.data.synthetic", lambda *a, **k: images)
            assert main(["run", str(preset), *args, "--logdir", str(folder / "runs")]) == 0
        return {g.label: g for g in compare([read_run(p) for p in experiment_runs(folder / "runs" / "study")])
                .groups}
    return run


SETTINGS = """
[settings]
dataset = "synthetic"
train_fraction = 1.0
batch_size = 25
normalize = true
device = "cpu"
"""


def test_a_configuration_trained_twice_over_the_same_seeds_differs_by_exactly_nothing(trained):
    """The same settings under two names over the same seeds, one thread each: on the CPU each seed
    trains bit for bit alike, so the difference is exactly 0 and no test may call it a difference.
    (Two different seed sets would differ by chance, and a 5% test would call that "worse" 1 time
    in 20.)"""
    groups = trained(f"seeds = 3\n{SETTINGS}epochs = 1\n[[runs]]\nname = 'baseline'\n[[runs]]\nname = 'again'\n")
    base, again = groups["baseline"], groups["again"]
    assert base.seeds == again.seeds == [4, 5, 6]
    assert [strip(read_metrics(r.path)) for r in base.runs] == [strip(read_metrics(r.path)) for r in again.runs]
    assert base.metrics["test_acc"].last.sd > 0  # the seeds do differ from each other
    for metric in ("test_acc", "test_loss"):
        c = again.contrasts[metric]
        assert c.delta == 0.0 and c.n == c.n_base == 3
        assert not c.verdict.startswith(("better", "worse")), c.verdict
    assert again.verdict == "identical on every seed (n = 3)"


def strip(rows):
    """The epochs' values without their wall-clock fields."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in rows]


def test_lr_1e5_against_1e3_over_3_seeds_is_worse(trained):
    groups = trained(f"seeds = 3\n{SETTINGS}epochs = 3\n[[runs]]\nname = 'baseline'\nlr = 0.001\n"
                     "[[runs]]\nname = 'slow'\nlr = 0.00001\n")
    slow = groups["slow"]
    c = slow.contrasts["test_acc"]
    assert slow.verdict == "worse (paired, n = 3)"
    assert c.p_adj < 0.01 and c.high < 0  # the whole interval below the baseline
    assert slow.contrasts["test_loss"].verdict == "worse (paired, n = 3)"  # higher loss: worse too
    text = sentence(slow, groups["baseline"])
    assert text.startswith("Test accuracy ") and " points under baseline (paired by seed; 95% CI), p = " in text
    assert ", 3 seeds each: worse (paired, n = 3); these seeds detect a difference of " in text
