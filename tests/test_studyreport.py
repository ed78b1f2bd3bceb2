"""`cifar-tui report`: the report of a small real study (quick-demo, 3 seeds, synthetic data)
holds a figure per metric whose curves are the group means in metrics.jsonl, compare's own
verdicts and sentences, no URL, decodable PNGs; bad input is one sentence and changes nothing."""
import csv
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from apphelp import log_text, make_app, ready, sync, wait_for
from core.records import METRICS, read_metrics
from tui.cli import main

GROUPS = ("baseline", "augmentation+normalization")
STUDY = ["--seeds", "3", "--set", "train_fraction=0.03", "--set", "epochs=2"]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """quick-demo trained once for the module: 2 runs × 3 seeds × 2 epochs of 300 images."""
    root = tmp_path_factory.mktemp("study")
    assert main(["run", "quick-demo", *STUDY, "--logdir", str(root / "runs"), "--data-dir", str(root / "data")]) == 0
    return root / "runs"


@pytest.fixture(scope="module")
def report(logdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "quick"
    assert main(["report", "quick-demo", "--logdir", str(logdir), "--out", str(out)]) == 0
    return out


def seeds_of(logdir, group: str, experiment: str = "quick-demo") -> list[Path]:
    return [p.parent for p in sorted((logdir / experiment).glob("*/config.json"))
            if json.loads(p.read_text())["group"] == group]


def test_a_figure_per_metric_draws_each_groups_mean_and_seed_range(logdir, report):
    for metric in METRICS:
        drawn = json.loads((report / "figures" / f"quick-demo-{metric}.json").read_text())
        assert [c["label"] for c in drawn["curves"]] == [f"{g} (n=3)" for g in GROUPS]
        for curve, group in zip(drawn["curves"], GROUPS):
            rows = [read_metrics(p) for p in seeds_of(logdir, group)]
            assert len(rows) == 3
            by_epoch = {e: [r[e - 1][metric] for r in rows] for e in (1, 2)}
            assert curve["epochs"] == [1, 2]
            assert curve["mean"] == pytest.approx([statistics.fmean(by_epoch[e]) for e in (1, 2)], rel=1e-12)
            assert curve["low"] == [min(by_epoch[e]) for e in (1, 2)]
            assert curve["high"] == [max(by_epoch[e]) for e in (1, 2)]
            assert curve["band_points"] > 0
        svg = (report / "figures" / f"quick-demo-{metric}.svg").read_text()
        for k in range(len(GROUPS)):  # one mean line and one band per group, by their gids
            assert f'id="mean-{k}"' in svg and f'id="band-{k}"' in svg
        assert f'id="mean-{len(GROUPS)}"' not in svg
    colours = [c["colour"] for c in json.loads((report / "figures" / "quick-demo-test_acc.json").read_text())["curves"]]
    assert len(set(colours)) == 2
    page = (report / "report.html").read_text()
    assert page.count("<svg") == 4  # every figure inline
    for colour in colours:  # the table's swatches are the curves' colours
        assert f"background:{colour}" in page


def test_the_report_has_compares_verdicts_and_sentences(logdir, report, tmp_path):
    compared = tmp_path / "c.csv"
    assert main(["compare", "quick-demo", "--logdir", str(logdir), "--csv", str(compared),
                 "--markdown", str(tmp_path / "c.md")]) == 0
    for name in ("c.csv", "c-summary.csv", "c-groups.csv"):
        ours = report / name.replace("c", "runs", 1)
        assert ours.read_text() == (tmp_path / name).read_text(), name
    with open(tmp_path / "c-groups.csv") as f:
        groups = {row["group"]: row for row in csv.DictReader(f)}
    assert groups["augmentation+normalization"]["verdict"]  # a verdict to find: n = 3 a side
    page = (report / "report.html").read_text()
    for row in groups.values():
        assert f">{row['verdict']}</td>" in page
    said = [line for line in (tmp_path / "c.md").read_text().splitlines() if line.startswith("- **")]
    assert len(said) == 2
    text = (report / "report.md").read_text()
    assert all(line in text for line in said)
    import html
    assert all(html.escape(line.split("**: ", 1)[1]) in page for line in said)


def test_no_url_of_any_kind_and_the_pngs_decode(report):
    from PIL import Image

    page = (report / "report.html").read_text()
    assert not re.search(r"https?://|<link|<script|<img|url\((?!#)|href=\"(?!#)", page)  # only in-page refs
    pngs = sorted((report / "figures").glob("*.png"))
    assert [p.stem for p in pngs] == sorted(f"quick-demo-{m}" for m in METRICS)
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            assert image.format == "PNG" and image.size[0] > 500
    md = (report / "report.md").read_text()
    assert all(f"](figures/quick-demo-{m}.svg)" in md for m in METRICS)
    assert "synthetic stand-in" in page and "runs.csv" not in page


def test_the_environment_and_the_commands_that_train_each_run_again(logdir, report, tmp_path):
    page = (report / "report.html").read_text()
    import torch
    import torchvision

    assert torch.__version__ in page and torchvision.__version__ in page
    md = (report / "report.md").read_text()
    (line,) = [l for l in md.splitlines() if l.startswith("- augmentation+normalization: `")]
    words = shlex.split(line.split("`")[1])
    assert words[:2] == ["cifar-tui", "run"]
    again = tmp_path / "again"  # the command trains the same runs again: same curves
    assert main([*words[1:], "--logdir", str(again)]) == 0
    for seed_dir in seeds_of(logdir, "augmentation+normalization"):
        rows = read_metrics(again / "quick-demo" / seed_dir.name)
        assert [r["test_acc"] for r in rows] == [r["test_acc"] for r in read_metrics(seed_dir)]


def recorded_as(logdir, tmp_path, experiment: str) -> Path:
    """The module's runs copied and recorded as `experiment`'s (a preset's name)."""
    study = tmp_path / "runs" / experiment
    shutil.copytree(logdir / "quick-demo", study)
    for config in study.glob("*/config.json"):
        meta = json.loads(config.read_text())
        config.write_text(json.dumps({**meta, "experiment": experiment}))
    return study


def test_a_presets_equivalence_margin_applies_as_in_compare(logdir, tmp_path):
    study = recorded_as(logdir, tmp_path, "precision-check")  # its preset names a margin
    assert main(["compare", str(study), "--csv", str(tmp_path / "c.csv")]) == 0
    assert main(["report", str(study), "--out", str(tmp_path / "rep")]) == 0
    ours = (tmp_path / "rep" / "runs-groups.csv").read_text()
    assert ours == (tmp_path / "c-groups.csv").read_text() and "equivalent within" in ours


def test_the_notebook_numbers_beside_a_reference_presets_runs(logdir, tmp_path):
    study = recorded_as(logdir, tmp_path, "ex1-normalization-augmentation")
    out = tmp_path / "rep"
    assert main(["report", str(study), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    for group, reported in (("baseline", "0.575"), ("augmentation+normalization", "0.650")):
        last = [read_metrics(p)[-1]["test_acc"] for p in seeds_of(study.parent, group, study.name)]
        row = f"| {group} | {reported} | {statistics.fmean(last):.3f} ± {statistics.stdev(last):.3f} | 2 |"
        assert row in md
    assert "mean nothing against the notebook" in md


def snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and err.endswith(".")
    return err


def test_bad_input_is_one_sentence_and_changes_nothing(logdir, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(logdir, runs)
    before = snapshot(runs)
    (runs / "empty").mkdir()
    out = str(tmp_path / "out")

    def why(*targets, to=out):
        return refused(capsys, ["report", *map(str, targets), "--logdir", str(runs), "--out", str(to)])

    for empty in ("empty", runs / "empty"):
        assert f"the experiment {empty} holds no runs yet" in why(empty)
    run_dir = runs / "quick-demo" / "baseline-s5"
    assert f"{run_dir} is a run folder" in why("quick-demo", to=run_dir)
    assert f"is inside the run folder {run_dir}" in why("quick-demo", to=run_dir / "r")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert f"cannot write the report in {blocker / 'r'} (Not a directory)" in why("quick-demo", to=blocker / "r")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "figures").symlink_to(run_dir)
    assert f"{linked / 'figures'} is a run folder" in why("quick-demo", to=linked)
    other = runs / "other"  # a run trained to another recipe
    shutil.copytree(runs / "quick-demo" / "baseline-s4", other / "longer")
    meta = json.loads((other / "longer" / "config.json").read_text())
    meta["config"]["epochs"], meta["group"], meta["experiment"] = 5, "longer", "other"
    (other / "longer" / "config.json").write_text(json.dumps(meta))
    assert "different recipes (5 vs 2 epochs)" in why("quick-demo", "other")
    shutil.rmtree(other)
    (run_dir / "status.json").unlink()  # killed: no status
    assert "baseline-s5 has not finished (interrupted after 2 epochs)" in why("quick-demo")
    assert not (tmp_path / "out").exists()
    before.pop(run_dir / "status.json")
    assert snapshot(runs) == before


def test_a_link_in_the_output_folder_is_replaced_not_written_through(logdir, tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    record = logdir / "quick-demo" / "baseline-s4"
    before = snapshot(record)
    os.link(record / "metrics.jsonl", out / "report.html")  # a hard link into a run's record
    (out / "runs.csv").symlink_to(record / "config.json")
    (out / "figures" / "quick-demo-test_acc.png").symlink_to(record / "checkpoint.pt")
    assert main(["report", "quick-demo", "--logdir", str(logdir), "--out", str(out)]) == 0
    assert snapshot(record) == before
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert not (out / "runs.csv").is_symlink()


def test_the_console_does_not_import_matplotlib():
    code = "import sys, tui.app, tui.cli, tui.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent).returncode == 0


@sync
async def test_the_consoles_w_key_writes_the_report_of_the_runs_on_screen(logdir, tmp_path, monkeypatch):
    from core.records import read_run
    from tui.studyfigures import hex_colour

    monkeypatch.chdir(tmp_path)  # the report goes to ./reports/EXPERIMENT
    shutil.copytree(logdir, tmp_path / "runs")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "w")
        await wait_for(pilot, lambda: "No recorded run on screen to report" in log_text(app))
        for path in sorted(p for p in (tmp_path / "runs" / "quick-demo").iterdir() if p.is_dir()):
            app.views.add_past(read_run(path))
        app.model.relabel()
        app.model.mark_charts()
        await wait_for(pilot, lambda: all(v.colour is not None for v in app.views))
        await pilot.press("w")
        await wait_for(pilot, lambda: "Report of quick-demo written" in log_text(app), timeout=300)
    out = tmp_path / "reports" / "quick-demo"
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    drawn = json.loads((out / "figures" / "quick-demo-test_acc.json").read_text())["curves"]
    shown = {v.group: v.colour for v in app.views}  # the seeds of a group share its colour
    assert shown["augmentation+normalization"] != shown["baseline"]  # aug opened first: the palette's first
    assert {c["label"]: c["colour"] for c in drawn} == {f"{g} (n=3)": hex_colour(shown[g]) for g in GROUPS}
