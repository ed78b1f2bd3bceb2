#!/usr/bin/env python3
"""One epoch of the reference study in fp32 and in precision=auto, as a ratio.

Writes a CIFAR-10 look-alike in the original on-disk format (the study's first
25,000 training images and 10,000 test images; see epoch_vs_reference.py), then,
in interleaved rounds so that a drifting or shared machine skews all alike, runs
`cifar-tui run --set epochs=1` with precision=fp32 and precision=auto, for the
baseline and for augmentation+normalization, and reads the epoch's `seconds`
(train + eval) from metrics.jsonl and the precision auto resolved to from config.json.

Prints min and median seconds per job, the auto/fp32 ratio of the medians and
the median of the per-round ratios, and the load average before and after.

usage: python bench/precision_epoch.py [--device cpu|cuda] [--rounds 3] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from epoch_vs_reference import ROOT, write_lookalike


def epoch(data_dir: str, device: str, precision: str, augnorm: bool) -> tuple[float, str]:
    """(seconds of epoch 1, the precision config.json recorded) of `cifar-tui run` as a user runs it."""
    with tempfile.TemporaryDirectory() as logdir:
        sets = ["epochs=1", f"device={device}", f"precision={precision}"]
        sets += ["augment=true", "normalize=true"] if augnorm else []
        cmd = [sys.executable, "-m", "tui.cli", "run", "--logdir", logdir, "--data-dir", data_dir]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (run_dir,) = Path(logdir).glob("*/*/")
        seconds = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["seconds"]
        return seconds, json.loads((run_dir / "config.json").read_text())["config"]["precision"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=None, help="a CIFAR-10 folder to use (default: a fresh look-alike)")
    a = p.parse_args()
    load_before = os.getloadavg()
    jobs = [(f"{precision}-{run}", precision, run == "augnorm")
            for run in ("baseline", "augnorm") for precision in ("fp32", "auto")]
    times = {name: [] for name, _, _ in jobs}
    resolved = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = a.data_dir or write_lookalike(tmp)
        for r in range(1, a.rounds + 1):
            for name, precision, augnorm in jobs:
                seconds, resolved[name] = epoch(data_dir, a.device, precision, augnorm)
                times[name].append(seconds)
                print(f"round {r} {name:14s} {seconds:8.2f} s  ({resolved[name]})", flush=True)
    load_after = os.getloadavg()
    print(f"\none epoch (25,000 train + 10,000 test images) on {a.device}, {a.rounds} interleaved rounds; "
          f"load average (1/5/15 min) before {'/'.join(f'{x:.1f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.1f}' for x in load_after)}, {os.cpu_count()} CPUs:")
    for name, values in times.items():
        print(f"  {name:14s} min {min(values):7.2f} s   median {statistics.median(values):7.2f} s"
              f"   ({resolved[name]})")
    for run in ("baseline", "augnorm"):
        fp32, auto = times[f"fp32-{run}"], times[f"auto-{run}"]
        print(f"  {run:9s} auto/fp32: medians {statistics.median(auto) / statistics.median(fp32):.3f}, "
              f"mins {min(auto) / min(fp32):.3f}, "
              f"per round (median) {statistics.median(x / y for x, y in zip(auto, fp32)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
