"""Epoch time with the console open vs headless, on the same small run.

The console must never slow training down: its worker thread only calls
post_message, and the UI redraws the charts at most every 0.3 s. This script
trains the same config (fixed seed) alternately headless (core.trainer.train
with no listener) and inside the console (CifarApp under App.run_test, the real
app with Textual's headless driver: every event, table update and chart redraw
happens, only the terminal write is skipped), and prints the per-epoch seconds
from metrics.jsonl.

    PYTHONPATH=. python bench/console_vs_headless.py [--device cpu] [--epochs 4] [--fraction 0.2] [--repeats 2]

Epoch 1 is left out of the medians (warm-up: allocator, cudnn autotune).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import make_config  # noqa: E402
from core.lifecycle import train  # noqa: E402
from core.records import read_metrics  # noqa: E402
from tui.app import CifarApp  # noqa: E402
from tui.recipes import Recipe, plan  # noqa: E402


def headless(config, logdir: str) -> list[float]:
    ended = train(config, logdir=logdir, experiment="bench", run="headless")
    assert ended.status == "finished", ended.message
    return [m["seconds"] for m in read_metrics(ended.run_dir)]


class TimedApp(CifarApp):
    """Records how long the training thread spends in post_message (its only contact with the UI)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handoff: list[float] = []
        self._ui_thread = threading.get_ident()

    def post_message(self, message) -> bool:
        if threading.get_ident() == self._ui_thread:
            return super().post_message(message)
        t0 = time.perf_counter()
        try:
            return super().post_message(message)
        finally:
            self.handoff.append(time.perf_counter() - t0)


HANDOFF: list[float] = []


async def console(config, logdir: str, size=(120, 40)) -> tuple[list[float], int]:
    app = TimedApp(logdir=logdir)
    async with app.run_test(size=size) as pilot:
        while not app.screen_stack or not app.screen_stack[0].query("SidePanel") or not app.side.preset:
            await pilot.pause(0.05)
        app.launch("bench", plan([Recipe("console", config, config)]))
        while app.running or not len(app.views):
            # not pilot.pause: that posts a callback to every widget, work a real terminal never does
            await asyncio.sleep(0.25)
        (view,) = app.views
        assert view.status == "finished", view.message
        HANDOFF.extend(app.handoff)
        return [m["seconds"] for m in read_metrics(view.run_dir)], len(view.metrics)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--fraction", type=float, default=0.2, help="train_fraction of the synthetic set (10,000 images)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        import torch

        import tui.app

        torch.set_num_threads(args.threads)

        def train_with_threads(*a, **k):  # the thread count is per thread: set it in the worker too
            torch.set_num_threads(args.threads)
            return train(*a, **k)

        tui.app.train = train_with_threads
    config = make_config({"dataset": "synthetic", "device": args.device, "epochs": args.epochs,
                          "train_fraction": args.fraction, "batch_size": args.batch_size, "seed": 4})
    times = {"headless": [], "console": []}
    with tempfile.TemporaryDirectory() as logdir:
        for r in range(args.repeats):  # alternate the order, so drift in machine load hits both alike
            for name in ("headless", "console") if r % 2 == 0 else ("console", "headless"):
                t0 = time.perf_counter()
                seconds = headless(config, logdir) if name == "headless" else asyncio.run(console(config, logdir))[0]
                times[name] += seconds[1:]
                print(f"repeat {r + 1} {name}: {time.perf_counter() - t0:.1f}s, epochs "
                      + " ".join(f"{s:.2f}" for s in seconds), flush=True)
    h, c = statistics.median(times["headless"]), statistics.median(times["console"])
    print(f"config: synthetic, train_fraction {args.fraction}, batch {args.batch_size}, "
          f"{args.epochs} epochs x {args.repeats} repeats, device {args.device}")
    for name, values in times.items():
        print(f"{name:9s} epoch seconds: median {statistics.median(values):.3f}  "
              f"min {min(values):.3f}  max {max(values):.3f}  (n={len(values)})")
    print(f"console / headless (median): {c / h:.3f}")
    print(f"training thread -> UI hand-offs: {len(HANDOFF)} post_message calls, "
          f"{sum(HANDOFF) * 1e3:.1f} ms in all, longest {max(HANDOFF) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
