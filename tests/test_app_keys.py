"""Keys and paths of the console that other tests leave out, each driven by key presses (Pilot)
and checked on what is drawn or stored: the compare screen's sort keys, enter and `c`; `r` on
stopped, killed and failed rows; `q` idle and in a --parallel console; `o` offering live runs
again; `x` on a followed run whose writer cannot be stopped from here; and a followed process's
next run."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from apphelp import (FAST, dead_pid, fill, headless_writer, log_text, make_app, open_past, ready, sync, tiny_synthetic,
                     wait_for)
from core.config import make_config
from core.events import EpochDone
from core.follow import live_runs
from core.lifecycle import train
from core.placement import Placement
from core.records import STATUS, _name_writer, read_metrics, read_run, take_lock, write_json, write_status
from core.resume import resume_problem
from core.stoprequest import requested
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.dialogs import PastRunsScreen
from tui.screens.main import MainScreen



pytestmark = pytest.mark.usefixtures("small_synthetic")


def seed_record(logdir, group: str, seed: int, test_acc: list, status="finished") -> Path:
    """One seed's finished record, written by hand: its test accuracy per epoch as given."""
    path = Path(logdir) / "study" / f"{group}-s{seed}"
    path.mkdir(parents=True)
    config = make_config({"dataset": "synthetic", "seed": seed, "epochs": len(test_acc)}).to_dict()
    write_json(path / "config.json", {"experiment": "study", "run": path.name, "group": group, "config": config})
    rows = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.9, "test_loss": 2.0 - a, "test_acc": a, "seconds": 1.0}
            for e, a in enumerate(test_acc, start=1)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_status(path, status, "", len(rows))
    return path


# Four groups on different seeds (so no pairing) whose orders differ from column to column:
# beta ends highest but sat low before (its smoothed value is lower than alpha's); gamma peaked
# at epoch 1 (the best of all) and ends lowest; the group sizes differ.
GROUPS = {
    "baseline": {4: [0.5, 0.5, 0.50], 5: [0.5, 0.5, 0.52], 6: [0.5, 0.5, 0.51], 7: [0.5, 0.5, 0.51],
                 8: [0.5, 0.5, 0.51]},
    "alpha": {10 + i: [0.9, 0.9, 0.9 + d] for i, d in enumerate([0.0, 0.01, 0.02, 0.01, 0.0, 0.01])},
    "beta": {20 + i: [0.1, 0.1, a] for i, a in enumerate([0.95, 0.99, 0.91, 0.95])},
    "gamma": {30 + i: [0.97, 0.3, a] for i, a in enumerate([0.3, 0.5, 0.4])},
}
# the key, and the groups best first as a reader works them out from GROUPS (hand computed)
SORTS = [
    ("1", ["alpha", "baseline", "beta", "gamma"]),   # run: by name
    ("2", ["alpha", "baseline", "beta", "gamma"]),   # n: 6, 5, 4, 3 seeds
    ("4", ["beta", "alpha", "baseline", "gamma"]),   # Δ acc: +0.44, +0.40, 0 (itself), -0.11
    ("5", ["alpha", "beta", "gamma", "baseline"]),   # p: t ≈ 70, t ≈ 18, t ≈ 1.9; the baseline has none
    ("8", ["alpha", "beta", "baseline", "gamma"]),   # smoothed acc: 0.90, 0.53, 0.505, 0.47
    ("9", ["gamma", "beta", "alpha", "baseline"]),   # best acc: 0.97, 0.95, 0.908, 0.51
]


def shown_groups(screen) -> list[str]:
    """The compare table's rows, top to bottom, by group."""
    table = screen.query_one("#compare-table")
    return [screen.app.views.get(row.key.value).group for row in table.ordered_rows]


@sync
async def test_compare_keys_sort_each_column_both_ways_enter_toggles_a_run_and_c_goes_back(tmp_path):
    logdir = tmp_path / "runs"
    paths = [seed_record(logdir, g, s, curve) for g, seeds in GROUPS.items() for s, curve in seeds.items()]
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, paths)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and len(shown_groups(app.screen)) == 4)
        screen = app.screen
        for key, best_first in SORTS:
            await pilot.press(key)
            await wait_for(pilot, lambda: shown_groups(screen) == best_first)
            await pilot.press(key)  # again: the other way, a group without the value still last
            have = best_first[:-1] if key == "5" else best_first
            await wait_for(pilot, lambda: shown_groups(screen) == have[::-1] + best_first[len(have):])
        await pilot.press("1")  # by name: alpha on top, the cursor there
        await wait_for(pilot, lambda: shown_groups(screen)[0] == "alpha")
        table = screen.query_one("#compare-table")
        table.move_cursor(row=0)
        alpha = [v for v in app.views if v.group == "alpha"]
        await pilot.press("enter")  # every seed of alpha off the charts, ○ in its row
        await wait_for(pilot, lambda: not any(v.overlay for v in alpha))
        assert str(table.get_row_at(0)[0]).startswith("○ ")
        assert all(v.overlay for v in app.views if v.group != "alpha")
        await pilot.press("enter")  # and back
        await wait_for(pilot, lambda: all(v.overlay for v in alpha))
        assert not str(table.get_row_at(0)[0]).startswith("○ ")
        await pilot.press("c")  # c closes the compare screen as it opened it
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


@sync
async def test_compare_key_7_sorts_by_epochs_on_record(tmp_path):
    logdir = tmp_path / "runs"
    paths = [seed_record(logdir, name, 4, [0.5] * epochs) for name, epochs in (("two", 2), ("four", 4), ("three", 3))]
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        open_past(app, paths)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and len(shown_groups(app.screen)) == 3)
        await pilot.press("7")
        await wait_for(pilot, lambda: shown_groups(app.screen) == ["four", "three", "two"])
        await pilot.press("7")
        await wait_for(pilot, lambda: shown_groups(app.screen) == ["two", "three", "four"])


# ---- r on a selected row --------------------------------------------------------
def stopped_after_one_epoch(logdir, run: str) -> Path:
    """A real 2-epoch run stopped after its first epoch (record and checkpoint agree)."""
    stop = threading.Event()
    config = make_config({"dataset": "synthetic", "epochs": 2, **FAST})
    ended = train(config, lambda e: stop.set() if isinstance(e, EpochDone) else None, stop, logdir=str(logdir),
                  experiment="exp", run=run, dataset=tiny_synthetic())
    assert ended.status == "stopped" and ended.epochs_done == 1
    return Path(ended.run_dir)


@sync
async def test_r_on_a_selected_stopped_killed_or_failed_row_carries_that_run_on(tmp_path):
    logdir = tmp_path / "runs"
    stopped = stopped_after_one_epoch(logdir, "stopped")
    killed = stopped_after_one_epoch(logdir, "killed")
    (killed / STATUS).unlink()  # killed before it wrote its end: its lock names a process that is gone
    (killed / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid(), "since": 0}))
    failed = stopped_after_one_epoch(logdir, "failed")
    write_status(failed, "failed", "ran out of memory at batch_size 128; try a smaller batch_size.", 1, "oom")
    paths = [stopped, killed, failed]
    assert [read_run(p).status for p in paths] == ["stopped", "interrupted", "failed"]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        views = open_past(app, paths)
        await pilot.press("t")  # the table: the first row is selected
        for row, view in enumerate(views):
            await wait_for(pilot, lambda: app.table.selected_key == view.key)
            await pilot.press("r")
            await wait_for(pilot, lambda: view.status in ("queued", "running", "finished"))
            if row < len(views) - 1:
                await pilot.press("down")
        await wait_for(pilot, lambda: not app.running and all(v.status == "finished" for v in views), timeout=180)
        text = log_text(app)
        for view, path in zip(views, paths):
            assert f"Resuming {view.label} (1 epoch(s) on record)" in text
            info = read_run(path)
            assert info.status == "finished" and [m["epoch"] for m in info.metrics] == [1, 2], info.message
            assert view.metrics == info.metrics
        assert text.count("resumed at epoch 2") == 3


# ---- q ----------------------------------------------------------------------------
@sync
async def test_q_while_idle_quits_at_once_and_writes_nothing(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "q")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0 and not app.views and app.signalled is None
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


@sync
async def test_q_in_a_parallel_console_stops_every_worker_cleanly_then_quits(tmp_path):
    app = make_app(tmp_path, placement=Placement(kind="processes", parallel=2, devices=("cpu",)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="100", train_fraction="0.05", batch_size="100", device="cpu")
        await pilot.press("a")  # quick-demo's two runs, one worker each
        await wait_for(pilot, lambda: len(app.views) == 2 and all(v.metrics for v in app.views), timeout=180)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=120)
        assert "Stopping the run before quitting" in log_text(app)
    assert app.return_code == 0
    for view in app.views:
        info = read_run(view.run_dir)
        assert info.status == "stopped" and 1 <= len(info.metrics) < 100, info.message
        assert resume_problem(info) is None
    assert live_runs(tmp_path / "runs") == []  # no worker left writing


# ---- runs other processes write -----------------------------------------------------
def held_run(logdir, name: str, owner: dict | None):
    """A run folder this test holds the lock of, as a writer would; `owner` is what the lock
    says about its writer (None: nothing). Returns (path, the held lock)."""
    path = logdir / "exp" / name
    path.mkdir(parents=True)
    write_json(path / "config.json", {"experiment": "exp", "run": name,
                                      "config": make_config({"dataset": "synthetic", "epochs": 5}).to_dict()})
    lock = take_lock(path)
    if owner is not None:
        lock.truncate(0)
        lock.write(json.dumps(owner))
        lock.flush()
    return path, lock


@sync
async def test_o_offers_the_live_runs_again_after_the_start_up_offer_was_declined(tmp_path):
    logdir = tmp_path / "runs"
    path, lock = held_run(logdir, "busy", None)
    _name_writer(lock)
    try:
        app = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("escape")  # not now
            await wait_for(pilot, lambda: not isinstance(app.screen, PastRunsScreen))
            assert not app.views
            await pilot.press("o")
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            (info,) = app.screen.runs
            assert info.path == path and info.status == "running"
            runs = app.screen.query_one("#past-runs")
            assert "exp/busy  running (live)  0 ep" in str(runs.get_option_at_index(0).prompt)
            await pilot.press("space", "o")
            await wait_for(pilot, lambda: len(app.views) == 1)
            (view,) = app.views
            assert view.followed and view.label == "busy (live)" and view.status == "running"
            assert app.following.follows(view.key)
            assert f"Following busy (live), written by pid {os.getpid()} on {socket.gethostname()}." in log_text(app)
    finally:
        lock.close()


class Refused:
    """os.kill as the kernel answers it for a process of another user (EPERM): nothing is sent.
    (The tests may run as root, which may signal any process, so the refusal is staged.)"""

    def __init__(self, pid: int):
        self.pid, self.tried, self.kill = pid, [], os.kill

    def __call__(self, pid, sig):
        if pid == self.pid and sig == signal.SIGTERM:
            self.tried.append((pid, sig))
            raise PermissionError(1, "Operation not permitted")
        return self.kill(pid, sig)


@pytest.mark.parametrize("case", ["another host", "no permission", "no writer named"])
@sync
async def test_X_on_a_followed_run_it_cannot_signal_says_where_to_stop_it_and_x_still_asks_for_its_run(tmp_path, monkeypatch, case):
    logdir = tmp_path / "runs"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a live pid not ours
    owner = {"another host": {"host": "gpu-box-7", "pid": other.pid, "since": 0},
             "no permission": {"host": socket.gethostname(), "pid": other.pid, "since": 0},
             "no writer named": None}[case]
    refused = Refused(other.pid)
    monkeypatch.setattr("core.follow.os.kill", refused)
    path, lock = held_run(logdir, "theirs", owner)
    try:
        app = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")  # follow it
            await wait_for(pilot, lambda: len(app.views) == 1)
            (view,) = app.views
            await pilot.press("t", "X")  # the whole process: a signal, which only its own host may send
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            expected = {
                "another host": f"{path} is written by pid {other.pid} on gpu-box-7; stop it on that machine.",
                "no permission": f"{path} is written by pid {other.pid} on {socket.gethostname()}, "
                                 "which this user may not stop.",
                "no writer named": f"{path} is being written, but its lock does not name the writer; "
                                   "stop it where it was started.",
            }[case]
            await wait_for(pilot, lambda: expected[0].upper() + expected[1:] in log_text(app))
            assert view.status == "running" and view.followed  # nothing changed here
            assert not requested(path)
            await pilot.press("x")  # that run only: a request in its folder, which a writer anywhere reads
            writer = "its writer" if owner is None else f"pid {other.pid} on {owner['host']}"
            await wait_for(pilot, lambda: f"Stopping theirs (another process, {writer}); that process goes on "
                                          "with its queue." in log_text(app))
            assert requested(path)
        assert refused.tried == ([(other.pid, signal.SIGTERM)] if case == "no permission" else [])
        assert other.poll() is None  # the process was not signalled
        assert not (path / STATUS).exists()
    finally:
        lock.close()
        other.kill()
        other.wait()


@sync
async def test_the_next_run_of_a_followed_process_is_followed_as_it_starts(tmp_path):
    """A headless `cifar-tui run quick-demo` (two runs, one after the other) is held still while the
    console attaches to its first run, so the second cannot have started yet."""
    logdir = tmp_path / "runs"
    sets = [a for s in ("epochs=2", "train_fraction=0.05", "batch_size=100", "device=cpu") for a in ("--set", s)]
    proc = headless_writer(logdir, "quick-demo", *sets)
    first, second = logdir / "quick-demo" / "baseline", logdir / "quick-demo" / "augmentation+normalization"
    try:
        proc.send_signal(signal.SIGSTOP)
        app = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            assert [info.path for info in app.screen.runs] == [first]
            await pilot.press("o")
            await wait_for(pilot, lambda: len(app.views) == 1)
            assert not second.exists()
            proc.send_signal(signal.SIGCONT)
            await wait_for(pilot, lambda: len(app.views) == 2 and all(v.status == "finished" for v in app.views),
                           timeout=180)
            assert proc.wait(timeout=60) == 0
            views = {Path(v.run_dir): v for v in app.views}
            assert set(views) == {first, second}
            for path, view in views.items():
                assert view.metrics == read_metrics(path) and len(view.metrics) == 2
                assert view.label == path.name and not view.followed  # ended: followed no more
            assert f"Following {second.name} (live), written by pid {proc.pid} on" in log_text(app)
            assert not app.running  # nothing trained in this console
    finally:
        proc.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
