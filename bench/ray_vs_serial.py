"""Wall time of a preset's runs one after the other against the same runs as Ray tasks.

Serial is `cifar-tui run PRESET` as a user starts it (its own process), twice: with the box's
default threads, and with one thread (`OMP_NUM_THREADS=1`, as each Ray task has). The Ray side is timed in this process in three parts, so that Ray's start-up is
counted apart: starting a local Ray instance (`ray.init`), the shared log dir check (one
probe task per node), and the runs themselves (`RayExecutor.run`: every run one task with
one CPU and one thread, as `cifar-tui run PRESET --ray` places them on this box).

    PYTHONPATH=. python bench/ray_vs_serial.py [quick-demo] [--set epochs=5]
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

from core.config import make_config, parse_assignment  # noqa: E402
from core.job import Job  # noqa: E402
from core.presets import find  # noqa: E402
from core.ray_cluster import connect  # noqa: E402
from core.ray_executor import RayExecutor  # noqa: E402
from core.records import list_runs, read_metrics  # noqa: E402


def serial_seconds(preset: str, logdir: str, sets: list[str], threads: int | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui.cli", "run", preset, "--logdir", logdir, *sets],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"serial run failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - t0


def epoch_seconds(logdir: str) -> float:
    return sum(r["seconds"] for p in list_runs(logdir) for r in read_metrics(p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", nargs="?", default="quick-demo")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = dict(parse_assignment(kv) for kv in args.set)
    preset = find(args.preset, make_config({}))
    jobs = [Job(key=str(i), name=name, config=config.replace(**overrides), experiment=preset.name)
            for i, (name, config) in enumerate(preset.runs)]
    sets = [a for kv in args.set for a in ("--set", kv)]
    with tempfile.TemporaryDirectory() as serial, tempfile.TemporaryDirectory() as serial1, \
            tempfile.TemporaryDirectory() as on_ray:
        t_serial = serial_seconds(args.preset, serial, sets)
        t_serial1 = serial_seconds(args.preset, serial1, sets, threads=1)
        t0 = time.perf_counter()
        cluster = connect()
        t_start = time.perf_counter() - t0
        executor = RayExecutor(on_ray, cluster=cluster)
        t0 = time.perf_counter()
        executor.check(jobs)
        t_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        ended = executor.run(jobs, lambda key, event: None)
        t_runs = time.perf_counter() - t0
        cluster.close()
        assert all(e.status == "finished" for e in ended.values()), ended
        print(f"{args.preset} {' '.join(args.set)}: {len(jobs)} run(s) on {os.cpu_count()} CPU(s)")
        print(f"{'':26}{'wall s':>8}{'sum of epoch s':>16}")
        print(f"{'serial, default threads':26}{t_serial:8.1f}{epoch_seconds(serial):16.1f}")
        print(f"{'serial, 1 thread':26}{t_serial1:8.1f}{epoch_seconds(serial1):16.1f}")
        print(f"{'ray: start a local Ray':26}{t_start:8.1f}")
        print(f"{'ray: log dir check':26}{t_check:8.1f}")
        print(f"{'ray: the runs':26}{t_runs:8.1f}{epoch_seconds(on_ray):16.1f}")
        for label, t in (("default threads", t_serial), ("1 thread", t_serial1)):
            print(f"ray/serial ({label}) wall time: runs only {t_runs / t:.2f}, "
                  f"with start-up and check {(t_start + t_check + t_runs) / t:.2f}")


if __name__ == "__main__":
    main()
