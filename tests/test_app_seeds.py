"""The console's compare screen shows groups of seeds: one row each, with n, mean ± sd, Δ with
its CI, Holm's p and the verdict; a row's overlay toggle acts on all its seeds."""
import json
from pathlib import Path

from apphelp import make_app, ready, sync, wait_for
from core.config import make_config
from core.records import read_run, write_json, write_status
from tui.report import COLUMNS
from tui.screens.compare import CompareScreen

COL = {key: k for k, (_, key, _) in enumerate(COLUMNS)}


def seed_run(logdir, group, seed, test_acc):
    path = Path(logdir) / "study" / f"{group}-s{seed}"
    path.mkdir(parents=True)
    write_json(path / "config.json", {"experiment": "study", "run": path.name, "group": group,
                                      "config": make_config({"dataset": "synthetic", "seed": seed}).to_dict()})
    rows = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 2 - test_acc, "test_acc": test_acc}]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_status(path, "finished", "", 1)
    return path


@sync
async def test_compare_screen_has_a_row_per_group_with_its_evidence(tmp_path):
    logdir = tmp_path / "runs"
    paths = [seed_run(logdir, "baseline", s, a) for s, a in zip((4, 5, 6), (0.50, 0.52, 0.51))]
    paths += [seed_run(logdir, "dropout", s, a) for s, a in zip((4, 5, 6), (0.60, 0.63, 0.61))]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        for path in paths:
            app.table.show(app.views.add_past(read_run(path)))
        app._mark_charts()
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        table = screen.query_one("#compare-table")
        assert [g.label for g in screen.rows()] == ["dropout", "baseline"] and table.row_count == 2
        dropout = screen.rows()[0]
        row = [cell.plain for cell in table.get_row(screen.view_of(dropout).key)]
        assert row[COL["n"]] == "3" and row[COL["test_acc"]] == "0.613±0.015"
        # by hand: Δ = 0.61333 - 0.51 = +0.103; se = sqrt(0.015275²/3 + 0.01²/3) = 0.010541 with
        # Welch's 3.45 d.f., t(0.975, 3.45) ≈ 2.96: half-width 0.031; t = 9.80, two-sided p = 0.0012
        assert row[COL["delta_test_acc"]] == "+0.103±0.031"
        assert row[COL["p"]] == "0.001" and row[COL["verdict"]] == "better (n = 3)"
        assert [cell.plain for cell in table.get_row(screen.view_of(screen.rows()[1]).key)][COL["verdict"]] == "baseline"
        # space on the dropout row takes all three of its seeds off the charts, and back
        seeds = [v for v in app.views if v.run_dir and Path(v.run_dir).name.startswith("dropout")]
        assert len(seeds) == 3 and all(v.overlay for v in seeds)
        await pilot.press("space")
        assert not any(v.overlay for v in seeds) and all(v.overlay for v in app.views if v not in seeds)
        assert table.get_row(screen.view_of(dropout).key)[0].plain.startswith("○ dropout")
        await pilot.press("space")
        assert all(v.overlay for v in seeds)
