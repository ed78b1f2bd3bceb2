"""`cifar-tui run PRESET --seeds N` against N separate one-seed runs, side by side, and the
seed-to-seed spread of the final test accuracy.

One `--seeds N` command loads the data set (and puts it on the device) once for all its runs
and starts Python and torch once; N one-seed commands (`--set seed=S`, S = the run's seed
upward) do all of that N times. Both leave the same records, which `compare` groups alike.
The arms alternate (`--repeats`) so a busy machine slows both; each time is a whole command's
wall time, start-up included.

    python bench/seeds_vs_single.py [--preset quick-demo] [--seeds 3] [--repeats 2] [--threads 1]
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

from core.compare import compare_paths  # noqa: E402
from core.findruns import experiment_runs  # noqa: E402
from core.presets import find  # noqa: E402


def cli(*args, env) -> float:
    """Wall seconds of one `cifar-tui` command (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick-demo")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", default="1", help="OMP_NUM_THREADS for the runs (default 1; '' leaves torch's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to every run")
    args = p.parse_args()
    env = {**os.environ, **({"OMP_NUM_THREADS": args.threads} if args.threads else {})}
    sets = [a for s in args.set for a in ("--set", s)]
    first_seed = find(args.preset).runs[0][1].seed
    together, apart, last = [], [], None
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            together.append(cli("run", args.preset, "--seeds", str(args.seeds), *sets, "--logdir", a, env=env))
            apart.append(sum(cli("run", args.preset, "--set", f"seed={first_seed + k}", *sets, "--logdir", b, env=env)
                             for k in range(args.seeds)))
            last = compare_paths(experiment_runs(Path(a) / find(args.preset).name))
            alike = compare_paths(experiment_runs(Path(b) / find(args.preset).name))
            assert [g.seeds for g in last.groups] == [g.seeds for g in alike.groups]
    print(f"{args.preset}, {args.seeds} seeds, OMP_NUM_THREADS={args.threads or 'default'}, "
          f"{args.repeats} alternating repeats (wall seconds, start-up included):")
    print(f"  --seeds {args.seeds} (one command):       " + "  ".join(f"{t:7.1f}" for t in together))
    print(f"  {args.seeds} x one seed ({args.seeds} commands):    " + "  ".join(f"{t:7.1f}" for t in apart))
    print(f"  ratio (one-seed commands / --seeds): " + "  ".join(f"{b / a:7.2f}" for a, b in zip(together, apart)))
    for g in last.groups:
        acc = g.metrics["test_acc"].last
        print(f"  {g.label}: final test accuracy {acc.mean:.4f} ± {acc.sd:.4f} (sd over seeds {g.seeds}): "
              + ", ".join(f"{v:.4f}" for v in acc.values))


if __name__ == "__main__":
    main()
