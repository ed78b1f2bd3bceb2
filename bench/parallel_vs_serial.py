"""Wall time of a preset's runs one after the other against `--parallel N`, side by side.

Both are `cifar-tui run` processes as a user starts them (fresh log dirs, the
same settings); the wall time includes start-up, data loading and, for
--parallel, the workers' spawn. Each way runs with the box's default threads
(serial: all of them in one run; parallel: split between the workers), which
is what a user gets; `--same-threads K` instead gives every run K threads both
ways, and then the curves must also be equal bit for bit (checked).

    PYTHONPATH=. python bench/parallel_vs_serial.py [quick-demo] [--parallel 2] [--set epochs=5] [--same-threads 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.records import list_runs, read_metrics  # noqa: E402


def timed_run(preset: str, logdir: str, extra: list[str], threads: int | None) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui.cli", "run", preset, "--logdir", logdir, *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"cifar-tui run {' '.join(extra)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def curves(logdir: str) -> dict:
    return {p.name: [{k: v for k, v in r.items() if k not in ("seconds", "time")} for r in read_metrics(p)]
            for p in list_runs(logdir)}


def epoch_seconds(logdir: str) -> float:
    return sum(r["seconds"] for p in list_runs(logdir) for r in read_metrics(p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="quick-demo")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--same-threads", type=int, default=None, metavar="K",
                        help="K threads per run both ways (and check the curves are equal)")
    args = parser.parse_args()
    sets = [a for kv in args.set for a in ("--set", kv)]
    k = args.same_threads
    with tempfile.TemporaryDirectory() as serial, tempfile.TemporaryDirectory() as parallel:
        t_serial = timed_run(args.preset, serial, sets, k)
        t_parallel = timed_run(args.preset, parallel, [*sets, "--parallel", str(args.parallel)],
                               k * args.parallel if k else None)
        print(f"{args.preset} {' '.join(args.set)} on {os.cpu_count()} CPU(s)"
              + (f", {k} thread(s) per run both ways" if k else ", default threads"))
        print(f"{'':12}{'wall s':>9}{'sum of epoch s':>16}")
        print(f"{'serial':12}{t_serial:9.1f}{epoch_seconds(serial):16.1f}")
        print(f"{'parallel ' + str(args.parallel):12}{t_parallel:9.1f}{epoch_seconds(parallel):16.1f}")
        print(f"parallel/serial wall time: {t_parallel / t_serial:.2f}")
        if k:
            same = curves(serial) == curves(parallel)
            print("curves equal bit for bit:", "yes" if same else "NO")


if __name__ == "__main__":
    main()
