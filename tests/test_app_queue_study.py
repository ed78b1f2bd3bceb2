"""The queue screen lists what the studies on screen plan beyond the runs on screen: another
process's queued runs (in its lane, counted in the study's time left) and runs never started."""
import os
import subprocess
import sys

from apphelp import make_app, ready, sync, wait_for
from core.config import RunConfig
from tui.screens.queue import QueueScreen

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = """
import sys
from core import study
from core.config import RunConfig
from core.job import Job
config = RunConfig(dataset="synthetic", epochs=10, train_fraction=0.5, data_dir="/data")
study.plan(sys.argv[1], "ex3", [Job(name=n, config=config.replace(seed=s), group=n) for n, s in
                                 zip(sys.argv[2].split(","), range(5, 99))])
print("planned", flush=True)
sys.stdin.read()  # holds its planner lock (a queue that may still start them) until told to end
"""


def planner(logdir, names, keep: bool) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", PLAN, str(logdir), names], cwd=ROOT, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT}, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == "planned\n"
    if not keep:
        p.stdin.close()
        p.wait(timeout=60)
    return p


@sync
async def test_another_processs_queue_and_never_started_runs_join_the_queue_and_its_time(tmp_path):
    logdir = tmp_path / "runs"
    planner(logdir, "dropout", keep=False)  # planned, then its process ended: never started
    alive = planner(logdir, "l1,l2", keep=True)
    try:
        app = make_app(tmp_path, clock=lambda: 100.0)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: ready(app))
            rows = [{"epoch": e, "test_acc": 0.3, "seconds": 10.0} for e in (1, 2)]  # 10 s an epoch, half the set
            view = app.views.add("baseline", "ex3", status="finished", epochs=2, metrics=rows,
                                 config=RunConfig(dataset="synthetic", epochs=2, train_fraction=0.5).to_dict(),
                                 run_dir=str(logdir / "ex3" / "baseline"))
            app.table.show(view)
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen)
                           and app.screen.query_one("#queue-table").row_count == 3)
            queue, summary = app.many.queue_state()
            lane = f"pid {alive.pid} on this host"
            assert [(r.label, r.state, r.where, r.lane, r.left) for r in queue] == [
                ("l1", "queued", f"queued in {lane}", lane, 100.0),
                ("l2", "queued", f"queued in {lane}", lane, 100.0),
                ("dropout", "planned", "never started", "", 100.0)]
            assert summary.startswith(f"Study time left ≈ 3:20 · 1 finished — {lane}: 2 runs, 3:20")
            assert "1 never started" in summary
    finally:
        alive.stdin.close()
        alive.wait(timeout=60)
