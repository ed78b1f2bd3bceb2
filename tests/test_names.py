"""One name per run, from the queue to the folder, the chart and compare (plain Python, no terminal):
folders promised when queued, one naming rule for s / a / the synthetic-data offer, a seed run
twice joining its group, the key's "+N more", and compare's run column at any width."""
import json

import pytest

from rich.console import Console

from core.config import make_config
from core.presets import find
from core.records import free_folder, new_run_dir
from core.job import Job
from core.seeds import Seeds
from tui.groupview import curves
from tui.recipes import Recipe, again, plan, trained
from tui.report import compare_command
from tui.runview import Views
from tui.widgets.chartkey import key_lines


def test_a_queued_run_keeps_the_folder_promised_to_it_while_its_trainer_makes_it(tmp_path):
    views = Views(str(tmp_path))
    (tmp_path / "demo" / "baseline").mkdir(parents=True)  # from an earlier session
    first, second = views.add("baseline", "demo"), views.add("baseline", "demo")
    assert (first.folder, second.folder) == ("baseline-2", "baseline-3")
    (tmp_path / "demo" / "baseline-2").mkdir()  # first's trainer made it; its RunStarted is not in yet
    third = views.add("baseline", "demo")  # a relabel meanwhile (another run queued)
    assert (first.label, second.label, third.label) == ("baseline-2", "baseline-3", "baseline-4")
    views.remove(second.key)  # cleared from the queue: its promise goes with it
    assert views.add("baseline", "demo").label == "baseline-3"


def test_the_trainer_makes_the_promised_folder_or_the_next_free_one(tmp_path):
    assert new_run_dir(str(tmp_path), "demo", "baseline", folder="baseline-3").name == "baseline-3"
    assert new_run_dir(str(tmp_path), "demo", "baseline").name == "baseline"  # -3 taken, the first free
    # the promised folder was taken since (another process): the first free one instead
    assert new_run_dir(str(tmp_path), "demo", "baseline", folder="baseline-3").name == "baseline-2"
    assert free_folder(tmp_path / "demo", "baseline", taken={"baseline-4"}) == "baseline-5"


def test_the_same_settings_get_the_same_name_from_s_a_and_the_synthetic_offer():
    preset = find("baseline")
    (origin, config), = preset.runs
    edited = config.replace(dataset="synthetic", train_fraction=0.1, epochs=3)
    from_form = Recipe(origin, config, edited).name  # `s`: the form loaded with baseline, edited
    from_a = [job.name for job, _ in plan([Recipe(n, c, c.replace(dataset="synthetic", train_fraction=0.1,
                                                                   epochs=3)) for n, c in preset.runs])]
    # the offer: the same edits on cifar10 first, the data set switched to synthetic after
    on_cifar = Recipe(origin, config, config.replace(train_fraction=0.1, epochs=3))
    (job, recipe), = plan([on_cifar])
    assert job.name == "baseline+frac0.1+ep3"
    rerun, _ = again(job, recipe, dataset="synthetic")
    assert from_form == from_a[0] == rerun.name == rerun.group == "baseline+synthetic+frac0.1+ep3"
    seeded = plan([on_cifar], Seeds(count=2))  # and seed by seed
    assert [again(j, r, dataset="synthetic")[0].name for j, r in seeded] == [
        "baseline+synthetic+frac0.1+ep3-s4", "baseline+synthetic+frac0.1+ep3-s5"]


def test_a_with_an_unedited_form_keeps_the_presets_names():
    preset = find("quick-demo")
    assert [job.name for job, _ in plan([Recipe(n, c, c) for n, c in preset.runs])] == [
        "baseline", "augmentation+normalization"]


def demo_view(views, name, seed, group="baseline", status="finished", losses=(2.0, 1.5), precision="auto"):
    """A run of quick-demo's baseline on screen; `precision`: as its record says (a started run's
    view holds the resolved one, never auto)."""
    config = find("quick-demo").run("baseline").replace(seed=seed, precision=precision).to_dict()
    rows = [{"epoch": e, "train_loss": v, "test_loss": v, "train_acc": 0.5, "test_acc": 0.5}
            for e, v in enumerate(losses, 1)]
    view = views.add(name, "quick-demo", config=config, group=group, status=status, metrics=rows, epochs=2,
                     run_dir=f"/runs/quick-demo/{name}")
    return view


@pytest.mark.parametrize("native_bf16, recorded", [(False, "fp32"), (True, "bf16")])
def test_a_seed_trained_before_joins_its_group_and_is_not_queued_again(monkeypatch, native_bf16, recorded):
    monkeypatch.setattr("core.precision.cpu_has_fast_bf16", lambda: native_bf16)  # this CPU, either way
    other = {"fp32": "bf16", "bf16": "fp32"}[recorded]
    views = Views()
    demo_view(views, "baseline-fp", 4, precision=other)  # seed 4 in the other precision: not this group
    jobs = [job for job, _ in plan([Recipe("baseline", find("quick-demo").run("baseline"),
                                           find("quick-demo").run("baseline"))], Seeds(count=3))]
    assert [trained(job, "quick-demo", views) is not None for job in jobs] == [False, False, False]
    views = Views()
    demo_view(views, "baseline", 4, losses=(2.0, 1.0), precision=recorded)  # quick-demo once, seed 4
    assert [trained(job, "quick-demo", views) is not None for job in jobs] == [True, False, False]
    assert trained(Job(name="baseline", config=jobs[0].config, group="baseline"), "quick-demo", views) is None  # `s` again: asked for
    # trained again anyway (a console that did not know it): the group counts seed 4 once
    for seed, loss in ((4, 3.0), (5, 2.0), (6, 3.0)):
        demo_view(views, f"baseline-s{seed}", seed, losses=(2.0, loss), precision=recorded)
    drawn = curves(list(views), "train_loss")
    assert [c.label for c in drawn] == ["baseline (n=3)"]  # no separate baseline-s4 curve
    assert drawn[0].y == [2.0, (3.0 + 2.0 + 3.0) / 3]  # the later seed-4 run counts, as compare counts it
    assert len(curves(list(views), "train_loss", seeds=True)) == 4  # `e`: every run on its own


def test_the_key_says_how_many_curves_it_could_not_show():
    items = [(33 + k, f"augmentation+normalization-s{k}") for k in range(5)]
    lines = key_lines(items, 40, max_lines=3)
    assert len(lines) == 3
    text = "\n".join(line.plain for line in lines)
    shown = sum(f"-s{k}" in text for k in range(5))
    assert f"+{5 - shown} more" in lines[-1].plain and shown < 5
    assert len(key_lines(items, 40)) == 5  # unbounded: every curve, one a line


def write_group(logdir, name, group, accs, epochs):
    for seed, acc in zip((4, 5, 6), accs):
        path = logdir / "exp" / f"{name}-s{seed}"
        path.mkdir(parents=True)
        config = make_config({"dataset": "synthetic", "seed": seed, "epochs": epochs}).to_dict()
        (path / "config.json").write_text(json.dumps({"experiment": "exp", "run": path.name, "group": group,
                                                      "config": config}))
        rows = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 1.0, "test_acc": acc}
                for e in range(1, epochs + 1)]
        (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (path / "status.json").write_text(json.dumps({"status": "finished", "message": ""}))


def test_compare_names_whole_at_200_columns_and_apart_at_60(tmp_path):
    logdir = tmp_path / "runs"
    write_group(logdir, "baseline+frac0.1+ep3", "baseline+frac0.1+ep3", (0.50, 0.52, 0.51), 3)
    write_group(logdir, "baseline+frac0.1+ep2", "baseline+frac0.1+ep2", (0.45, 0.47, 0.46), 3)  # a name only
    for width, whole in ((200, True), (60, False)):
        console = Console(width=width, record=True, force_terminal=False)
        compare_command(["exp"], logdir, "test_acc", console=console)
        out = console.export_text()
        table = out.split("Not shown")[0]
        assert all(len(line) <= width for line in out.splitlines())
        lines = table.splitlines()
        body = lines[next(k for k, line in enumerate(lines) if line.startswith("run ")) + 1:]
        body = body[:next((k for k, line in enumerate(body) if line.split(" ")[0].endswith(":")), len(body))]
        names = [line.split(" ")[0] for line in body if "±" in line]
        assert len(names) == 2 and len(set(names)) == 2, (names, table)
        if whole:
            assert set(names) == {"baseline+frac0.1+ep3", "baseline+frac0.1+ep2"}
        else:
            assert "…" in names[0] and {n[-3:] for n in names} == {"ep3", "ep2"}
        assert "worse" in table  # the verdict keeps its room
