"""Snapshots of the main screen (pytest-textual-snapshot): idle, after a finished quick run,
and four finished runs (one flat, two of the same run name from two starts) at three sizes.

Deterministic on any machine and torch version: the finished run is a scripted
trainer that sends fixed metrics through the real event path (float results of
real training differ between CPUs and torch builds), and run times are a constant. Update with `pytest tests/test_snapshots.py --snapshot-update`
and look at the .svg files before committing them.
"""
import pytest

from apphelp import drawn_all, fill, log_text, make_app, ready, wait_for
from core.events import EpochDone, RunEnded, RunStarted

SIZES = [(80, 24), (120, 40)]
FOUR_SIZES = [(80, 24), (120, 40), (200, 60)]


def scripted_train(config, on_event, stop=None, *, experiment="custom", run="run", **_):
    """Stands in for core.trainer.train: the same events, with metrics that depend only on the run."""
    shift = 0.0 if "augment" not in run else 0.15
    on_event(RunStarted(run, experiment, f"runs/{experiment}/{run}", config.epochs, 3, "cpu"))
    for epoch in range(1, config.epochs + 1):
        row = {"epoch": epoch, "train_loss": 2.3 - 0.5 * epoch + shift, "test_loss": 2.2 - 0.4 * epoch + shift + (0.5 if epoch == 3 and not shift else 0),  # overfits
               "train_acc": 0.1 + 0.2 * epoch - shift, "test_acc": 0.12 + 0.17 * epoch - shift, "seconds": 1.0}
        on_event(EpochDone(run, epoch, config.epochs, row))
    ended = RunEnded(run, "finished", f"finished {config.epochs} epochs.", config.epochs, f"runs/{experiment}/{run}")
    on_event(ended)
    return ended


@pytest.fixture(autouse=True)
def deterministic(monkeypatch):
    monkeypatch.setattr("tui.widgets.runs_table.format_duration", lambda seconds: "0:01")


@pytest.mark.parametrize("size", SIZES)
def test_idle(snap_compare, tmp_path, size):
    app = make_app(tmp_path, train=scripted_train)

    async def settle(pilot):
        await wait_for(pilot, lambda: ready(app) and "Pick a preset" in log_text(app) and drawn_all(app))

    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_after_a_finished_quick_run(snap_compare, tmp_path, size):
    app = make_app(tmp_path, train=scripted_train)

    async def finished_run(pilot):
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="3")
        await pilot.press("a")
        chart = app.charts.query_one("#chart-train_loss")
        await wait_for(pilot, lambda: len(app.views) == 2 and not app.running and drawn_all(app)
                       and [x for _, _, x, _ in chart.series] == [[1, 2, 3]] * 2)

    assert snap_compare(app, terminal_size=size, run_before=finished_run)


def curve(epochs, train_loss, test_loss, train_acc, test_acc):
    """Fixed metrics per epoch from four functions of the epoch."""
    return [{"epoch": e, "train_loss": train_loss(e), "test_loss": test_loss(e), "train_acc": train_acc(e),
             "test_acc": test_acc(e), "seconds": 1.0} for e in range(1, epochs + 1)]


FOUR_RUNS = (  # (run folder, metrics): baseline twice, from two starts of the same run
    ("baseline", curve(10, lambda e: 2.2 - 0.12 * e, lambda e: 2.1 - 0.1 * e + 0.03 * max(0, e - 6) ** 2,
                       lambda e: 0.2 + 0.05 * e, lambda e: 0.22 + 0.04 * e)),
    ("baseline-2", curve(10, lambda e: 2.15 - 0.11 * e, lambda e: 2.05 - 0.09 * e,
                         lambda e: 0.21 + 0.048 * e, lambda e: 0.23 + 0.039 * e)),
    ("sgd-lr1e-3", curve(10, lambda e: 2.3026 + 0.0006 * (-1) ** e, lambda e: 2.3019 - 0.0002 * (e % 3),
                         lambda e: 0.1 + 0.002 * (e % 2), lambda e: 0.1 + 0.001 * (e % 3))),
    ("dropout", curve(7, lambda e: 2.0 - 0.15 * e, lambda e: 1.9 - 0.12 * e,
                      lambda e: 0.3 + 0.06 * e, lambda e: 0.3 + 0.05 * e)),
)


@pytest.mark.parametrize("size", FOUR_SIZES)
def test_four_finished_runs(snap_compare, tmp_path, size):
    app = make_app(tmp_path, train=scripted_train)

    async def four_runs(pilot):
        await wait_for(pilot, lambda: ready(app))
        for folder, metrics in FOUR_RUNS:
            name = folder.removesuffix("-2")  # the run's name; its folder says which start
            view = app.views.add(name, "ex3-optimizers", status="finished", epochs=10, metrics=metrics,
                                 run_dir=f"runs/ex3-optimizers/{folder}")
            app.table.show(view)
        app.model.mark_charts()
        await wait_for(pilot, lambda: len(app.charts.query_one("#chart-train_loss").series) == 4 and drawn_all(app))

    assert snap_compare(app, terminal_size=size, run_before=four_runs)


def seed_curve(shift, wobble):
    """quick-demo's metrics for one seed: the run's curve (`shift`) moved by the seed (`wobble`)."""
    return curve(5, lambda e: 2.2 - 0.3 * e + shift + wobble * (1 + e % 2),
                 lambda e: 2.1 - 0.25 * e + shift + 1.5 * wobble + 0.04 * max(0, e - 3) ** 2,
                 lambda e: 0.2 + 0.1 * e - shift / 3 - wobble, lambda e: 0.2 + 0.08 * e - shift / 3 - 1.5 * wobble)


@pytest.mark.parametrize("size", SIZES)
def test_quick_demo_over_three_seeds_draws_each_group_with_its_spread(snap_compare, tmp_path, size):
    """As after `cifar-tui run quick-demo --seeds 3`: two groups of three seeds, each drawn as
    its mean with its min–max spread in its own colour."""
    from core.presets import find
    from core.seeds import Seeds, expand

    app = make_app(tmp_path, train=scripted_train)
    shifts = {"baseline": 0.0, "augmentation+normalization": 0.15}
    wobbles = {4: 0.0, 5: 0.05, 6: -0.04}

    async def three_seeds(pilot):
        await wait_for(pilot, lambda: ready(app))
        for job in expand(find("quick-demo").runs, Seeds(count=3)):
            view = app.views.add(job.name, "quick-demo", status="finished", epochs=5, config=job.config.to_dict(),
                                 group=job.group, run_dir=f"runs/quick-demo/{job.name}",
                                 metrics=seed_curve(shifts[job.group], wobbles[job.config.seed]))
            app.table.show(view)
        app.model.mark_charts()
        await wait_for(pilot, lambda: len(app.charts.query_one("#chart-train_loss").series) == 2 and drawn_all(app))

    assert snap_compare(app, terminal_size=size, run_before=three_seeds)
