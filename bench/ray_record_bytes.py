"""What a Ray task sends the driver per epoch when the driver keeps the records (core.ray_records):
one epoch of a run trained here by the task's own loop (core.ray_task.train_here), each message
pickled as Ray ships it and counted by kind instead of posted. Every message goes through Ray twice
(task to mailbox actor, mailbox to driver).

    PYTHONPATH=. OMP_NUM_THREADS=1 python bench/ray_record_bytes.py [--set KEY=VALUE ...]

Without --set: a quick-demo run (synthetic data, train_fraction 0.2) and the reference study's
model on all 10,000 synthetic training images (its checkpoint is that of a run on CIFAR-10).
"""
from __future__ import annotations

import argparse
import collections
import pickle
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import ray_task  # noqa: E402
from core.config import make_config, parse_assignment  # noqa: E402

CASES = {"quick-demo run": {"dataset": "synthetic", "train_fraction": 0.2, "batch_size": 128, "optimizer": "adam",
                            "lr": 0.001, "seed": 4},
         "reference model, 10,000 images": {"dataset": "synthetic", "train_fraction": 1.0}}


class Counting(ray_task.Outbox):
    """An outbox that counts what it would post: {kind: [messages, bytes]}."""
    def __init__(self):
        self.stop, self.sent = threading.Event(), collections.defaultdict(lambda: [0, 0])

    def send(self, message, wait=False):
        kind = type(message[1]).__name__ if message[0] == "event" else message[0]
        self.sent[kind][0] += 1
        self.sent[kind][1] += len(pickle.dumps(message, protocol=5))

    def check(self):
        pass


def measure(settings: dict) -> tuple[float, dict]:
    outbox = Counting()
    started = time.perf_counter()
    ray_task.train_here(make_config({**settings, "epochs": 1, "device": "cpu"}), outbox, 1, None,
                        run="r", experiment="bench", group=None)
    return time.perf_counter() - started, dict(outbox.sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    cases = {"--set": dict(parse_assignment(a) for a in args.set)} if args.set else CASES
    for name, settings in cases.items():
        seconds, sent = measure(settings)
        total = sum(b for _, b in sent.values())
        parts = ", ".join(f"{kind} {n}x {b:,} B" for kind, (n, b) in sent.items())
        print(f"{name}: one epoch {seconds:.1f} s; {total:,} B posted ({parts}); {2 * total:,} B through Ray")


if __name__ == "__main__":
    main()
