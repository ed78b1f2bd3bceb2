"""The console as a window onto runs other processes train: attaching to a headless run,
stopping it, stale locks, deleted folders, --parallel in the console, and a hang-up that
leaves the training going."""
import fcntl
import os
import pty
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from apphelp import ENV, ROOT, craft_run, dead_pid, fill, headless_writer, log_text, make_app, ready, sync, wait_for
from core.follow import Follower, live_runs
from core.placement import Placement
from core.records import STATUS, _name_writer, lock_owner, read_metrics, read_run, take_lock
from core.resume import resume_problem
from core.stoprequest import requested
from tui.screens.confirm import ConfirmScreen
from tui.screens.dialogs import PastRunsScreen
from tui.screens.help import HelpScreen
from tui.widgets.charts import MetricChart
import tui.following

TINY = ("dataset=synthetic", "train_fraction=0.05", "batch_size=100", "device=cpu")


def headless_run(logdir, epochs: int, *more: str) -> tuple[subprocess.Popen, Path]:
    """`cifar-tui run` of one tiny synthetic config (`more`: further arguments, e.g. --seeds) in
    another process; returns once it trains, with its first run's folder."""
    proc = headless_writer(logdir, *[a for s in (*TINY, f"epochs={epochs}") for a in ("--set", s)], *more)
    return proc, live_runs(logdir)[0][0]


async def attach(pilot, app):
    """Accept the start-up offer to follow the live runs; returns the followed view."""
    await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
    assert "follow live?" in app.screen.title
    await pilot.press("o")
    await wait_for(pilot, lambda: len(app.views) == 1)
    (view,) = app.views
    return view


@sync
async def test_the_console_attaches_to_a_headless_run_and_draws_its_epochs_as_they_land(tmp_path):
    logdir = tmp_path / "runs"
    proc, run_dir = headless_run(logdir, epochs=8)
    app = make_app(tmp_path)
    seen = set()  # epoch counts the table showed while the run was followed
    async with app.run_test(size=(120, 40)) as pilot:
        view = await attach(pilot, app)
        assert view.label == "run (live)" and view.status == "running"
        assert "training in another process" in log_text(app)

        def ended():
            seen.add(app.table.get_row(view.key)[2])
            return view.status != "running"

        await wait_for(pilot, ended, timeout=900)
        assert proc.wait(timeout=300) == 0
        chart = app.get_screen_main().query_one("#chart-test_acc", MetricChart)
        await wait_for(pilot, lambda: [x for _, _, x, _ in chart.series] == [list(range(1, 9))])
        assert view.status == "finished" and view.label == "run", log_text(app)
        assert view.metrics == read_metrics(run_dir) and len(view.metrics) == 8
        assert chart.series[0][3] == [m["test_acc"] for m in view.metrics]
        assert app.table.get_row(view.key)[2] == "8/8"
        assert len(seen) >= 3, seen  # the rows arrived as they landed, not all at the end
        assert not app.running  # nothing trains in this console


@sync
async def test_x_stops_a_followed_run_only_its_process_trains_its_next_seed_and_X_stops_the_process(tmp_path):
    """x on a run of a headless queue (two seeds): that run ends stopped, resumable, and the process
    goes on to its next seed, which the console follows; X asks first (n: nothing happens), then
    (y) stops the whole process."""
    logdir = tmp_path / "runs"
    proc, first_dir = headless_run(logdir, 200, "--seeds", "2")
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            first = await attach(pilot, app)
            await wait_for(pilot, lambda: first.metrics, timeout=600)
            app.table.focus()
            await pilot.press("x")
            await wait_for(pilot, lambda: first.status != "running", timeout=600)
            assert (f"Stopping {first_dir.name} (another process, pid {proc.pid} on "
                    f"{socket.gethostname()}); that process goes on with its queue.") in log_text(app)
            assert first.status == "stopped", log_text(app)
            await wait_for(pilot, lambda: len(app.views) == 2, timeout=600)  # its next seed, followed
            second = list(app.views)[1]
            await wait_for(pilot, lambda: second.metrics, timeout=600)  # trains
            assert second.followed and second.status == "running" and proc.poll() is None
            app.table.move_cursor(row=app.table.get_row_index(second.key))
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert f"Stop the whole process pid {proc.pid} on " in app.screen.question
            await pilot.press("n")
            await wait_for(pilot, lambda: "Nothing stopped." in log_text(app))
            assert second.status == "running" and proc.poll() is None
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: second.status != "running", timeout=600)
            assert f"Stopping the whole process pid {proc.pid} on " in log_text(app)
            assert second.status == "stopped", log_text(app)
    finally:
        try:
            proc.wait(timeout=300)  # it writes its record, then exits
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.wait() == 128 + signal.SIGTERM  # X: the whole process, by signal
    for view in (first, second):
        info = read_run(view.run_dir)
        assert info.status == "stopped" and 1 <= len(info.metrics) < 200 and resume_problem(info) is None
        assert not requested(info.path)  # the request was answered and removed
    assert {Path(first.run_dir).name, Path(second.run_dir).name} == {"run-s4", "run-s5"}


@sync
async def test_X_on_a_run_of_a_followed_parallel_writer_stops_that_whole_process(tmp_path):
    """The run's lock names its worker; X signals the process whose queue the worker trains, which
    stops every worker (both seeds end stopped, resumable)."""
    logdir = tmp_path / "runs"
    proc, _ = headless_run(logdir, 200, "--seeds", "2", "--parallel", "2", "--devices", "cpu")
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")  # follows whatever trains now; the writer's other run is followed as it starts
            await wait_for(pilot, lambda: len(app.views) == 2 and all(v.metrics for v in app.views), timeout=600)
            view = next(iter(app.views))
            assert lock_owner(view.run_dir)["queue_pid"] == proc.pid != lock_owner(view.run_dir)["pid"]
            app.table.focus()
            app.table.move_cursor(row=app.table.get_row_index(view.key))
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert f"Stop the whole process pid {proc.pid} on " in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: all(v.status != "running" for v in app.views), timeout=600)
            assert f"Stopping the whole process pid {proc.pid} on " in log_text(app)
    finally:
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.wait() == 128 + signal.SIGTERM
    for view in app.views:
        info = read_run(view.run_dir)
        assert view.status == info.status == "stopped" and resume_problem(info) is None, info.message


@sync
async def test_a_stale_lock_shows_as_interrupted_not_live(tmp_path):
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "killed", [1.0, 0.9])
    (path / STATUS).unlink()  # killed before it could write its end
    (path / ".lock").write_text(f'{{"host": "here", "pid": {dead_pid()}, "since": 0}}')
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app) and "Pick a preset" in log_text(app))  # start-up done,
        await pilot.pause()  # its offer (if any) pushed: the offer is decided in the same start-up step
        assert not isinstance(app.screen, PastRunsScreen)  # nothing offered: nobody writes it
        await pilot.press("escape", "o")
        await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
        (info,) = app.screen.runs
        assert info.status == "interrupted"
        await pilot.press("space", "o")
        await wait_for(pilot, lambda: len(app.views) == 1)
        (view,) = app.views
        assert view.status == "interrupted" and not view.followed and view.label == "killed (past)"


@sync
async def test_a_followed_folder_deleted_says_so_and_the_console_stays_up(tmp_path):
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "busy", [1.0, 0.9])
    (path / STATUS).unlink()
    lock = take_lock(path)  # this test writes it, as far as anyone can tell
    _name_writer(lock)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            view = await attach(pilot, app)
            await wait_for(pilot, lambda: len(view.metrics) == 2)
            shutil.rmtree(path)
            await wait_for(pilot, lambda: view.status != "running")
            assert view.status == "failed" and view.cause == "deleted"
            assert "was deleted while it was followed; its record is gone." in log_text(app)
            await pilot.press("question_mark")  # still answering keys
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
    finally:
        lock.close()


@sync
async def test_parallel_2_trains_two_runs_at_once_in_the_console(tmp_path):
    app = make_app(tmp_path, placement=Placement(kind="processes", parallel=2, devices=("cpu",)))
    together = []  # how many rows were running at each look
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="3", train_fraction="0.05", batch_size="100", device="cpu")
        await pilot.press("a")  # quick-demo: two runs

        def done():
            together.append(sum(v.status == "running" for v in app.views))
            return len(app.views) == 2 and not app.running and all(v.status != "queued" for v in app.views)

        await wait_for(pilot, done, timeout=900)
        assert max(together) == 2, log_text(app)
        for view in app.views:
            assert view.status == "finished", log_text(app)
            assert read_run(view.run_dir).status == "finished" and len(view.metrics) == 3
            assert view.metrics == read_metrics(view.run_dir)



@sync
async def test_x_stops_one_worker_of_a_parallel_console_and_X_stops_the_rest(tmp_path):
    app = make_app(tmp_path, placement=Placement(kind="processes", parallel=2, devices=("cpu",)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="100", train_fraction="0.05", batch_size="100", device="cpu")
        await pilot.press("a")
        await wait_for(pilot, lambda: len(app.views) == 2 and all(v.metrics for v in app.views), timeout=600)
        one, other = app.views
        app.table.focus()
        app.table.move_cursor(row=app.table.get_row_index(one.key))
        await pilot.press("x")
        await wait_for(pilot, lambda: one.status != "running", timeout=600)
        assert f"Stopping {one.label} (a worker process; the others go on) at the end of this batch" in log_text(app)
        assert one.status == "stopped" and other.status == "running", log_text(app)
        done = len(other.metrics)
        await wait_for(pilot, lambda: len(other.metrics) > done, timeout=600)  # the other worker trains on
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "1 running run stops at the end of this batch; 0 queued runs will not start." in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.running, timeout=600)
        assert ("Stopping the whole study here: 1 running run stops at the end of this batch; "
                "0 queued runs will not start.") in log_text(app)
        for view in app.views:
            info = read_run(view.run_dir)
            assert view.status == info.status == "stopped", log_text(app)
            assert 1 <= len(info.metrics) < 100 and resume_problem(info) is None and not requested(info.path)


# quick-demo (the console's first preset) on a twentieth of its training images, in batches of 100:
# a user preset of that name comes before the bundled one
SMALL_QUICK_DEMO = ('[settings]\ndataset = "synthetic"\ntrain_fraction = 0.05\nbatch_size = 100\nepochs = 5\n'
                    'device = "cpu"\n[[runs]]\nname = "baseline"\n')


def console_in_pty(logdir, *args) -> tuple[subprocess.Popen, int]:
    """The console in a real pty (as over SSH), quick-demo made small; returns the process and
    the pty's master end."""
    presets = logdir.parent / "presets"
    presets.mkdir()
    (presets / "quick-demo.toml").write_text(SMALL_QUICK_DEMO)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.set_blocking(master, False)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--logdir", str(logdir), *args], cwd=ROOT,
                            env={**ENV, "TERM": "xterm-256color", "CIFAR_TUI_PRESETS": str(presets)},
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    return proc, master


def train_one_epoch_in_pty(proc, master, run_dir) -> None:
    """Press s until the run is training, then wait for its first epoch."""
    def drain():
        try:
            while os.read(master, 1 << 16):
                pass
        except (BlockingIOError, OSError):
            pass

    deadline = time.monotonic() + 600
    sent = 0.0
    while not read_metrics(run_dir):
        assert proc.poll() is None and time.monotonic() < deadline, "the console did not start a run"
        drain()
        if not (run_dir / "config.json").exists() and time.monotonic() - sent > 3:
            os.write(master, b"s")
            sent = time.monotonic()
        time.sleep(0.1)


@pytest.mark.parametrize("on_hangup", ["keep", "stop"])
def test_hang_up_of_the_console_terminal(tmp_path, on_hangup):
    """The link drops (the pty closes, SIGHUP arrives): by default the console trains on to the
    end, its run visible to the next console as live, and exits 0; `--on-hangup stop` stops it."""
    logdir = tmp_path / "runs"
    proc, master = console_in_pty(logdir, *(["--on-hangup", "stop"] if on_hangup == "stop" else []))
    run_dir = logdir / "quick-demo" / "baseline"
    train_one_epoch_in_pty(proc, master, run_dir)
    proc.send_signal(signal.SIGSTOP)  # held still mid-run while the link drops, so the run cannot end first
    try:
        done = len(read_metrics(run_dir))
        assert 1 <= done < 5 and not (run_dir / STATUS).exists()
        os.close(master)  # the SSH connection drops
        proc.send_signal(signal.SIGHUP)  # delivered as the process goes on
        # the run is being written: the next console finds it live, written by this console
        assert [(path, owner["pid"]) for path, owner in live_runs(logdir)] == [(run_dir, proc.pid)]
    finally:
        proc.send_signal(signal.SIGCONT)
    if on_hangup == "stop":
        assert proc.wait(timeout=300) == 128 + signal.SIGHUP
        info = read_run(run_dir)
        assert info.status == "stopped" and done <= len(info.metrics) < 5, info.message
        return
    assert proc.wait(timeout=900) == 0  # 5 small epochs: ~3 s on a quiet machine
    info = read_run(run_dir)
    assert info.status == "finished" and len(info.metrics) == 5, info.message



@pytest.mark.parametrize("args, expected", [
    (["--parallel", "0"], "--parallel: 0 is too few; use 1 or more, e.g. --parallel 2."),
    (["--parallel", "abc"], "--parallel: 'abc' is not a whole number"),
    (["--devices", "cuda:9"], "--devices: cuda:9 does not exist"),
    (["--devices", "cpu,cpu"], "--devices names cpu twice"),
])
def test_bad_console_placement_is_one_sentence_and_exit_2(tmp_path, capsys, args, expected):
    from tui.cli import main

    assert main(["--logdir", str(tmp_path), *args]) == 2  # refused before the console opens
    err = capsys.readouterr().err
    assert err.startswith(f"cifar-tui: {expected}") and err.count("\n") == 1, err


@sync
async def test_following_reads_folders_off_the_ui_thread_and_stops_on_quit(tmp_path, monkeypatch):
    """A slow (NFS) log dir must not freeze the screen: every poll of a followed folder and every
    look for its writer's next run happens in the worker thread, which ends when the app quits."""
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "busy", [1.0, 0.9])
    (path / STATUS).unlink()
    lock = take_lock(path)  # this test writes it: its next run is looked for
    _name_writer(lock)
    polls, scans = [], []

    def recorded(into, read):
        def call(*args):
            into.append(threading.current_thread())
            return read(*args)
        return call

    monkeypatch.setattr(Follower, "poll", recorded(polls, Follower.poll))
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            view = await attach(pilot, app)  # the start-up offer looked on the UI thread, once
            monkeypatch.setattr(tui.following, "live_runs", recorded(scans, live_runs))
            await wait_for(pilot, lambda: len(view.metrics) == 2 and scans)
            assert [e["train_loss"] for e in view.metrics] == [1.0, 0.9]
            assert app.table.get_row(view.key)[2] == "2/2"
        assert app.following.ended.wait(60), "the following thread outlived the app"
    finally:
        lock.close()
    assert polls and scans
    assert threading.main_thread() not in polls + scans
