#!/usr/bin/env python3
"""One epoch of the reference study: cifar-tui's pipeline next to the plain eager compute floor.

Writes a CIFAR-10 look-alike in the original on-disk format (50,000 training
images, of which the study uses the first 25,000, and 10,000 test images),
then, in interleaved rounds so that a drifting machine skews all alike, times

  ours-baseline   `cifar-tui run --set epochs=1` : `seconds` from metrics.jsonl
  ours-augnorm    the same with augment=true normalize=true
  floor           forward+backward+Adam step on one in-memory batch for ceil(25000/128)
                  steps plus ceil(10000/128) eval forwards: the notebook's model, plain
                  eager PyTorch (NCHW, default Adam), no data path at all
  ref-baseline    (with --reference PATH) the notebook-style loop, e.g. seed_reference.py,
  ref-augnorm     which must print `epoch_s=...`

and prints each one's median seconds and its ratio to the floor's median.

usage: python bench/epoch_vs_reference.py [--device cpu|cuda] [--rounds 3]
           [--data-dir DIR] [--reference seed_reference.py] [--make-data DIR]
Run it from anywhere; it runs the CLI from this checkout.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "cifar-10-batches-py"


def write_lookalike(root: str, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> str:
    """root/cifar-10-batches-py: 5 training batches, a test batch and batches.meta."""
    rng = np.random.default_rng(seed)
    base = Path(root, FOLDER)
    base.mkdir(parents=True, exist_ok=True)

    def batch(n, label):
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 200, (n, 3, 32, 32), dtype=np.uint8)
        for c in range(10):  # a brighter patch per class: learnable, like real images are
            sel = labels == c
            data[sel, c % 3, 3 * (c // 3):3 * (c // 3) + 8, 4:12] += 50
        return {"batch_label": label, "labels": labels.tolist(), "data": data.reshape(n, 3072),
                "filenames": [f"{j}.png" for j in range(n)]}

    per = n_train // 5
    for i in range(1, 6):
        (base / f"data_batch_{i}").write_bytes(pickle.dumps(batch(per, f"training batch {i} of 5")))
    (base / "test_batch").write_bytes(pickle.dumps(batch(n_test, "testing batch 1 of 1")))
    (base / "batches.meta").write_bytes(pickle.dumps(
        {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                         "ship", "truck"], "num_vis": 3072}))
    return root


def ours(data_dir: str, device: str, augnorm: bool) -> float:
    """`seconds` of epoch 1 of `cifar-tui run`, as a user runs it."""
    with tempfile.TemporaryDirectory() as logdir:
        sets = ["epochs=1", f"device={device}"] + (["augment=true", "normalize=true"] if augnorm else [])
        cmd = [sys.executable, "-m", "tui.cli", "run", "--logdir", logdir, "--data-dir", data_dir]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (metrics,) = Path(logdir).glob("*/*/metrics.jsonl")
        return json.loads(metrics.read_text().splitlines()[0])["seconds"]


def floor(device_name: str, train_images: int = 25_000, test_images: int = 10_000) -> float:
    """Seconds of the plain eager compute for one epoch (after one untimed warm-up epoch)."""
    import torch
    from torch import nn

    class Notebook(nn.Module):  # the notebook's model, ReLU on the logits included
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.conv3 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3), nn.Conv2d(64, 128, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc1, self.fc2, self.fc3 = nn.Linear(3200, 100), nn.Linear(100, 50), nn.Linear(50, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = torch.relu(self.conv2(x))
            x = self.pool(torch.relu(self.conv3(x)))
            x = torch.relu(self.fc1(x.flatten(1)))
            return torch.relu(self.fc3(torch.relu(self.fc2(x))))

    dev = torch.device(device_name)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = Notebook().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(128, 3, 32, 32, device=dev), torch.randint(0, 10, (128,), device=dev)
    seconds = []
    for _ in range(2):
        sync()
        t0 = time.perf_counter()
        model.train()
        for _ in range(math.ceil(train_images / 128)):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for _ in range(math.ceil(test_images / 128)):
                model(x)
        sync()
        seconds.append(time.perf_counter() - t0)
    return seconds[-1]


def floor_subprocess(device: str) -> float:
    """The floor in a fresh process, like the others (no warm caches or threads shared)."""
    out = subprocess.run([sys.executable, __file__, "--floor-only", "--device", device],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def reference(script: str, data_dir: str, device: str, config: str) -> float:
    out = subprocess.run([sys.executable, script, data_dir, "--config", config, "--device", device],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"epoch_s=([\d.]+)", out)[1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=None, help="a CIFAR-10 folder to use (default: a fresh look-alike)")
    p.add_argument("--reference", default=None, help="a notebook-style loop to time too (prints epoch_s=...)")
    p.add_argument("--make-data", default=None, metavar="DIR", help="only write the look-alike into DIR and exit")
    p.add_argument("--floor-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.floor_only:
        print(f"{floor(a.device):.3f}")
        return 0
    if a.make_data:
        print(write_lookalike(a.make_data))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = a.data_dir or write_lookalike(tmp)
        jobs = {"ours-baseline": lambda: ours(data_dir, a.device, False),
                "floor": lambda: floor_subprocess(a.device),
                "ours-augnorm": lambda: ours(data_dir, a.device, True)}
        if a.reference:
            jobs["ref-baseline"] = lambda: reference(a.reference, data_dir, a.device, "baseline")
            jobs["ref-augnorm"] = lambda: reference(a.reference, data_dir, a.device, "augment_normalize")
        times = {name: [] for name in jobs}
        for r in range(1, a.rounds + 1):
            for name, job in jobs.items():
                times[name].append(job())
                print(f"round {r} {name:14s} {times[name][-1]:8.2f} s", flush=True)
    base = statistics.median(times["floor"])
    print(f"\none epoch on {a.device}, median of {a.rounds} interleaved rounds (load: {os.getloadavg()[0]:.1f}):")
    for name, values in times.items():
        paired = statistics.median(v / f for v, f in zip(values, times["floor"]))
        print(f"  {name:14s} {statistics.median(values):8.2f} s   / floor {statistics.median(values) / base:5.3f}"
              f"   (paired by round {paired:5.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
