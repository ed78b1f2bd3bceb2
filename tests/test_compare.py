import csv
import fcntl
import json
import math
import os
import subprocess
import sys

import pytest

from core.compare import CompareError, compare, compare_paths, sort_runs
from core.curves import smooth
from core.findruns import experiment_runs, resolve
from core.records import read_metrics, read_run
from core.summaries import summarize
from tui.cli import main
from tui.report import csv_paths, markdown
from tui.sentences import sentence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_run(logdir, experiment, run, curves, status="finished", mtime=None):
    """A run folder written by hand: curves maps metric -> per-epoch values."""
    path = logdir / experiment / run
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"experiment": experiment, "run": run, "config": {}}))
    n = len(next(iter(curves.values())))
    rows = [{"epoch": e + 1, **{m: v[e] for m, v in curves.items()}} for e in range(n)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if status:
        (path / "status.json").write_text(json.dumps({"status": status, "message": ""}))
    if mtime is not None:
        for name in ("config.json", "metrics.jsonl", "status.json"):
            if (path / name).exists():
                os.utime(path / name, (mtime, mtime))
    return path


def curves(test_acc, test_loss, train_acc=None, train_loss=None):
    n = len(test_acc)
    return {"train_loss": train_loss or [2.0 - 0.1 * e for e in range(n)], "test_loss": test_loss,
            "train_acc": train_acc or [0.5 + 0.05 * e for e in range(n)], "test_acc": test_acc}


# --- smoothing: TensorBoard's debiased EMA, expected values worked out by hand ---------

def test_smoothing_matches_tensorboards_formula_by_hand():
    # w = 0.5: last = 1 -> 1/0.5 = 2; last = 0.5 + 2 = 2.5 -> 2.5/0.75; last = 1.25 + 3 = 4.25 -> 4.25/0.875
    assert smooth([2, 4, 6], 0.5) == pytest.approx([2, 10 / 3, 34 / 7], abs=1e-12)
    # default w = 0.6: last = 0.4 -> 1; last = 0.24 -> 0.24 / (1 - 0.36) = 0.375
    assert smooth([1.0, 0.0]) == pytest.approx([1.0, 0.375], abs=1e-12)


def test_smoothing_edge_cases_follow_tensorboard():
    assert smooth([1.0, float("nan"), 0.0], 0.6)[2] == pytest.approx(0.375)  # NaN passes, is not counted
    assert math.isnan(smooth([1.0, float("nan"), 0.0], 0.6)[1])
    assert smooth([0.3, 0.3, 0.3], 0.9) == [0.3, 0.3, 0.3]  # constant series unchanged
    assert smooth([3, 1, 2], 0) == [3, 1, 2]
    assert smooth([], 0.6) == []
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        smooth([1, 2], 1.0)


# --- per-run summary ---------------------------------------------------------------

def test_best_argbest_onset_and_gap(tmp_path):
    path = write_run(tmp_path, "x", "r", curves(
        test_acc=[0.1, 0.5, 0.4, 0.5, 0.45], test_loss=[2.0, 1.0, 0.8, 0.9, 1.3],
        train_acc=[0.2, 0.6, 0.7, 0.8, 0.9]))
    s = summarize(read_run(path))
    acc, loss = s.metrics["test_acc"], s.metrics["test_loss"]
    assert (acc.last, acc.best, acc.best_epoch) == (0.45, 0.5, 2)  # ties: the first epoch to reach it
    assert (loss.last, loss.best, loss.best_epoch) == (1.3, 0.8, 3)  # min for a loss
    assert s.metrics["train_acc"].best_epoch == 5
    assert s.onset == 3 and s.rise == pytest.approx(0.5) and s.overfits
    assert s.gap == pytest.approx(0.9 - 0.45)
    assert acc.smoothed == pytest.approx(smooth([0.1, 0.5, 0.4, 0.5, 0.45])[-1])
    assert s.epochs == 5 and s.last_epoch == 5 and s.status == "finished"


def test_no_overfitting_while_test_loss_still_falls(tmp_path):
    s = summarize(read_run(write_run(tmp_path, "x", "r", curves([0.2, 0.3], [1.5, 1.2]))))
    assert s.onset == 2 and s.rise == 0 and not s.overfits


def test_deltas_to_the_run_named_baseline(tmp_path):
    drop = write_run(tmp_path, "ex2", "dropout", curves([0.5, 0.678], [1.2, 1.0]))
    base = write_run(tmp_path, "ex2", "baseline", curves([0.5, 0.575], [1.1, 1.4]))
    c = compare([read_run(drop), read_run(base)])
    assert c.baseline == "baseline"
    d, b = c.runs
    assert not d.is_baseline and b.is_baseline
    assert d.delta["test_acc"] == pytest.approx(0.678 - 0.575)
    assert d.delta["test_loss"] == pytest.approx(1.0 - 1.4)
    assert b.delta == {m: 0.0 for m in b.delta} and len(b.delta) == 4
    assert compare([read_run(drop), read_run(base)], baseline="dropout").runs[1].delta["test_acc"] \
        == pytest.approx(0.575 - 0.678)


def test_baseline_is_first_in_preset_order_without_a_baseline_run(tmp_path):
    # written newest-first by mtime: the preset's order must win over age
    for k, name in enumerate(["sgd-lr0.01", "adam-lr0.01", "adam-lr0.001"]):
        write_run(tmp_path, "ex3-optimizers", name, curves([0.1 * (k + 1)], [1.0]), mtime=1000 + k)
    paths = experiment_runs(tmp_path / "ex3-optimizers")
    assert [p.name for p in paths] == ["adam-lr0.001", "adam-lr0.01", "sgd-lr0.01"]
    assert compare_paths(paths).baseline == "adam-lr0.001"


def test_runs_of_other_experiments_go_oldest_first(tmp_path):
    write_run(tmp_path, "mine", "b", curves([0.2], [1.0]), mtime=2000)
    write_run(tmp_path, "mine", "a", curves([0.3], [1.0]), mtime=1000)
    assert [p.name for p in experiment_runs(tmp_path / "mine")] == ["a", "b"]


def test_sort_best_first_and_missing_values_last(tmp_path):
    runs = [read_run(write_run(tmp_path, "x", n, curves(acc, loss))) for n, acc, loss in
            [("a", [0.3], [1.0]), ("b", [0.6], [2.0]), ("c", [0.5], [0.5])]]
    empty = tmp_path / "x" / "d"
    empty.mkdir()
    runs.append(read_run(empty))
    c = compare(runs)
    assert [r.label for r in c.sorted("test_acc")] == ["b", "c", "a", "d"]   # accuracy: high first
    assert [r.label for r in c.sorted("test_loss")] == ["c", "a", "b", "d"]  # loss: low first
    with pytest.raises(CompareError, match="sort by one of: train_loss"):
        sort_runs(c.runs, "colour")
    assert sentence(c.groups[3], c.groups[0]) == "No finished epoch yet (interrupted)."


def test_run_still_writing_is_read_up_to_its_last_whole_line(tmp_path):
    path = write_run(tmp_path, "x", "live", curves([0.2, 0.4], [1.2, 1.0]), status=None)
    with open(path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "train_loss": 0.9, "test_')  # the trainer is mid-write
    with open(path / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        s = summarize(read_run(path))
    assert s.status == "running" and s.epochs == 2 and s.metrics["test_acc"].last == 0.4


# --- the command -------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_logdir(tmp_path_factory):
    """The quick-demo preset's runs, trained for real on a tiny synthetic set."""
    from core.data import synthetic
    from core.lifecycle import train
    from core.presets import find

    logdir = tmp_path_factory.mktemp("runs")
    data = synthetic(n_train=256, n_test=128)
    for name, config in find("quick-demo").runs:
        end = train(config.replace(epochs=3, train_fraction=1.0, device="cpu"), logdir=str(logdir),
                    experiment="quick-demo", run=name, dataset=data)
        assert end.status == "finished", end.message
    return logdir


def test_compare_prints_the_table(demo_logdir):
    r = subprocess.run([sys.executable, "-m", "tui.cli", "compare", "quick-demo", "--logdir", str(demo_logdir)],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "120"}, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[0].startswith("quick-demo: 2 run(s), 1 seed each; sorted by test_acc")
    assert "baseline baseline" not in out.replace(",", "")
    header = next(line for line in out.splitlines() if line.startswith("run"))
    assert header.split()[:2] == ["run", "n"]
    base = read_metrics(demo_logdir / "quick-demo" / "baseline")[-1]
    row = next(line for line in out.splitlines() if line.startswith("baseline "))
    assert row.split()[1:3] == ["1", f"{base['test_acc']:.3f}"]
    assert "augmentation+normalization" in out and "Test accuracy" in out
    assert "one seed each: too few seeds for a verdict (n = 1)" in " ".join(out.split())


def test_no_argument_compares_the_most_recent_experiment(tmp_path, capsys):
    write_run(tmp_path, "old", "baseline", curves([0.1], [1.0]), mtime=1000)
    write_run(tmp_path, "new", "baseline", curves([0.2], [1.0]), mtime=2000)
    assert main(["compare", "--logdir", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("new (the most recent experiment; also: old)")


def test_csv_round_trips_metrics_jsonl(demo_logdir, tmp_path, capsys):
    target = tmp_path / "out.csv"
    assert main(["compare", "quick-demo", "--logdir", str(demo_logdir), "--csv", str(target)]) == 0
    epochs_file, summary_file, groups_file = csv_paths(target)
    assert (summary_file.name, groups_file.name) == ("out-summary.csv", "out-groups.csv")
    with open(epochs_file, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(summary_file, newline="") as f:
        summary = {r["run"]: r for r in csv.DictReader(f)}
    for name in ("baseline", "augmentation+normalization"):
        jsonl = read_metrics(demo_logdir / "quick-demo" / name)
        mine = [r for r in rows if r["run"] == name]
        assert [int(r["epoch"]) for r in mine] == [j["epoch"] for j in jsonl]
        for got, want in zip(mine, jsonl):
            for key in ("train_loss", "test_loss", "train_acc", "test_acc", "seconds"):
                assert float(got[key]) == want[key]  # exact: repr-formatted floats
        s = summary[name]
        assert float(s["test_acc"]) == jsonl[-1]["test_acc"]
        assert float(s["best_test_loss"]) == min(j["test_loss"] for j in jsonl)
        assert float(s["gap"]) == jsonl[-1]["train_acc"] - jsonl[-1]["test_acc"]
    base_acc = float(summary["baseline"]["test_acc"])
    other = summary["augmentation+normalization"]
    assert float(other["delta_test_acc"]) == pytest.approx(float(other["test_acc"]) - base_acc, abs=1e-15)
    assert summary["baseline"]["baseline"] == "True" and other["baseline"] == "False"
    assert (summary["baseline"]["group"], summary["baseline"]["seed"]) == ("baseline", "4")
    with open(groups_file, newline="") as f:
        groups = {r["group"]: r for r in csv.DictReader(f)}
    assert groups["baseline"]["n"] == "1" and groups["baseline"]["test_acc_sd"] == ""
    assert float(groups["augmentation+normalization"]["test_acc_mean"]) == float(other["test_acc"])
    assert groups["augmentation+normalization"]["verdict"] == "too few seeds for a verdict (n = 1)"
    assert groups["augmentation+normalization"]["reference"] == "baseline"


def test_markdown_report_has_the_table_and_a_sentence_per_run(tmp_path, capsys):
    write_run(tmp_path, "ex2", "baseline", curves([0.5, 0.575], [1.1, 1.4], train_acc=[0.6, 0.9]))
    write_run(tmp_path, "ex2", "dropout", curves([0.6, 0.655], [1.0, 1.1], train_acc=[0.6, 0.7]))
    report = tmp_path / "report.md"
    assert main(["compare", "ex2", "--logdir", str(tmp_path), "--markdown", str(report)]) == 0
    text = report.read_text()
    lines = text.splitlines()
    assert lines[0] == "# Comparison: ex2"
    header = next(i for i, line in enumerate(lines) if line.startswith("| run |"))
    cols = [c.strip() for c in lines[header].strip("|").split("|")]
    assert cols[:6] == ["run", "n", "test acc", "Δ acc ±95% CI", "p adj", "verdict"]
    assert set(lines[header + 1].strip("|").split("|")) == {"---"}
    first, second = ([c.strip() for c in line.strip("|").split("|")] for line in lines[header + 2:header + 4])
    assert first[:6] == ["dropout", "1", "0.655", "+0.080", "", "too few seeds for a verdict (n = 1)"]
    assert second[:6] == ["**baseline**", "1", "0.575", "", "", "reference"]
    assert ("- **dropout**: Test accuracy 8.0 points over baseline, one seed each: too few seeds for a verdict "
            "(n = 1) (repeat it over more seeds, e.g. --seeds 5); best test accuracy 0.655 at epoch 2; "
            "test loss bottoms at epoch 1 then rises 0.100; train-test accuracy gap +0.045.") in lines
    assert "- **baseline**: The reference; best test accuracy 0.575 at epoch 2; test loss bottoms at epoch 1 " \
           "then rises 0.300; train-test accuracy gap +0.325." in lines


def test_explicit_run_folders_in_the_order_given(tmp_path, capsys):
    a = write_run(tmp_path, "e1", "run", curves([0.3], [1.0]))
    b = write_run(tmp_path, "e2", "run", curves([0.4], [1.0]))
    title, paths = resolve([str(b), str(a), str(b)], tmp_path)
    assert title == "runs from e2, e1" and paths == [b, a]
    c = compare_paths(paths, one_reference=True)  # run folders named: one reference, as the CLI does
    assert c.baseline == "e2/run"  # same folder names: qualified; no 'baseline': the first given
    text = markdown(title, c, "test_acc")
    assert "**e2/run**" in text and "-0.100 under" not in text
    assert "Test accuracy 10.0 points under e2/run, one seed each" in text  # the sign is in the words


def test_in_progress_run_compares(tmp_path, capsys):
    write_run(tmp_path, "x", "baseline", curves([0.2, 0.3], [1.2, 1.0]))
    live = write_run(tmp_path, "x", "dropout", curves([0.25], [1.1]), status=None)
    with open(live / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "train_lo')
    assert main(["compare", "x", "--logdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(interrupted)" in out and "(epoch 1 vs 2)" in out


@pytest.mark.parametrize("args, expected", [
    (["compare", "nope"], "'nope' is neither a run folder nor an experiment"),
    (["compare", "--sort", "colour"], "cannot sort by 'colour'; sort by one of: train_loss"),
    (["compare", "empty"], "no finished epoch to compare yet"),
])
def test_bad_compare_exits_2_with_one_sentence(tmp_path, capsys, args, expected):
    write_run(tmp_path, "x", "baseline", curves([0.2], [1.0]))
    (tmp_path / "empty" / "r").mkdir(parents=True)
    (tmp_path / "empty" / "r" / "config.json").write_text("{}")
    assert main([*args, "--logdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_no_runs_at_all_exits_2(tmp_path, capsys):
    assert main(["compare", "--logdir", str(tmp_path / "none")]) == 2
    assert "no runs under" in capsys.readouterr().err


def test_unwritable_report_exits_2(tmp_path, capsys):
    write_run(tmp_path, "x", "baseline", curves([0.2], [1.0]))
    assert main(["compare", "x", "--logdir", str(tmp_path), "--markdown", str(tmp_path / "no" / "r.md")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_at_80_columns_the_essential_columns_stay_and_the_rest_are_named(tmp_path, capsys, monkeypatch):
    for seed, (b, a) in zip((4, 5, 6), [(0.575, 0.650), (0.585, 0.655), (0.580, 0.640)]):
        for run, acc in (("baseline", b), ("augmentation+normalization", a)):
            path = write_run(tmp_path, "ex1", f"{run}-s{seed}", curves([0.5, acc], [1.1, 1.4]))
            (path / "config.json").write_text(json.dumps({"experiment": "ex1", "run": path.name,
                                                          "group": run, "config": {"seed": seed}}))
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", "ex1", "--logdir", str(tmp_path), "--sort", "gap"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 80
    header = next(line for line in out.splitlines() if line.startswith("run"))
    assert header.split()[:2] == ["run", "n"] and header.split()[-1] == "verdict"
    # by hand: mean 1.945 / 3 = 0.6483, sd sqrt((0.0017² + 0.0067² + 0.0083²) / 2) = 0.0076; the same
    # seeds, so paired: differences 0.075, 0.070, 0.060, mean 0.0683, sd 0.00764, se 0.00441 on 2 d.f.,
    # t(0.975, 2) = 4.303 (a t table): ± 0.019
    assert "augmentation+normalization 3 0.648±0.008 +0.068±0.019" in " ".join(out.split())
    assert "Not shown at this width: gap, ep, smoothed acc," in " ".join(out.split())
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["compare", "ex1", "--logdir", str(tmp_path), "--sort", "gap"]) == 0
    out = capsys.readouterr().out
    assert "gap ▾" in out and "Not shown" not in out


def test_a_flat_runs_wobble_is_not_marked_as_overfitting():
    from core.curves import overfit_onset

    flat = [2.3021, 2.3017, 2.3019, 2.3018]  # up 0.0002 from its minimum: noise on a run that never learned
    assert overfit_onset([1, 2, 3, 4], flat) is None
    risen = [1.50, 1.20, 1.10, 1.25]  # up 0.15 (14% of the minimum) since epoch 3
    assert overfit_onset([1, 2, 3, 4], risen) == 3
