"""`python tests/killpoint.py MOMENT MARKER ARG...` runs `cifar-tui ARG...` in this process; at MOMENT
it writes the file MARKER and waits to be killed. A test kills the run on that observed state,
never after a sleep, and no hook lives in the program itself.

MOMENT is one of:
  first-epoch     epoch 1, before its 3rd batch (nothing recorded yet)
  mid-epoch       epoch 3, before its 5th batch (epochs 1-2 recorded and checkpointed)
  after-metrics   epoch 2 in metrics.jsonl and TensorBoard, its checkpoint not yet written
  in-checkpoint   half of epoch 2's checkpoint written to its temp file
  after-last      the last checkpoint saved, status.json not yet written
"""
import io
import sys
import time
from pathlib import Path

import core.records as records
import core.trainer as trainer
from tui.cli import main


def park(marker: str) -> None:
    Path(marker).write_text("here\n")
    while True:
        time.sleep(60)


def stop_in_epoch(epoch: int, batch: int, marker: str) -> None:
    train_epoch, step = trainer.train_epoch, trainer.step

    def counted_epoch(r, n, *args, **kw):
        if n == epoch:
            calls = iter(range(1, 1_000_000))

            def counted_step(*a):
                if next(calls) == batch:
                    park(marker)
                return step(*a)

            trainer.step = counted_step
        return train_epoch(r, n, *args, **kw)

    trainer.train_epoch = counted_epoch


def stop_at_checkpoint(epoch: int, half: bool, marker: str) -> None:
    save = records.RunRecord.save_checkpoint

    def save_checkpoint(self, state):
        if state["epoch"] != epoch:
            return save(self, state)
        if not half:
            park(marker)
        import torch

        blob = io.BytesIO()
        torch.save(state, blob)

        def write_half(f):
            f.write(blob.getbuffer()[:len(blob.getbuffer()) // 2])
            f.flush()
            park(marker)

        records.atomic_write(self.path / records.CHECKPOINT, write_half)

    records.RunRecord.save_checkpoint = save_checkpoint


def stop_before_status(marker: str) -> None:
    records.RunRecord.finish = lambda self, *a, **kw: park(marker)


if __name__ == "__main__":
    moment, marker, *args = sys.argv[1:]
    {"first-epoch": lambda: stop_in_epoch(1, 3, marker),
     "mid-epoch": lambda: stop_in_epoch(3, 5, marker),
     "after-metrics": lambda: stop_at_checkpoint(2, False, marker),
     "in-checkpoint": lambda: stop_at_checkpoint(2, True, marker),
     "after-last": lambda: stop_before_status(marker)}[moment]()
    sys.exit(main(args))
