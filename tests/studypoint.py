"""`python tests/studypoint.py FAIL_RUN STOP_RUN ARG...` runs `cifar-tui ARG...` in this process and
interrupts its study at fixed points, with no hook in the program itself:

  FAIL_RUN  raises an error in epoch 2, before its 3rd batch: the run fails (resumable, epoch 1 kept)
  STOP_RUN  sends this process SIGINT in epoch 2, before its 5th batch: `run` stops that run
            mid-epoch, as Ctrl-C does, and the runs queued behind it never start
"""
import os
import signal
import sys

import core.trainer as trainer
from tui.cli import main


def interrupt(fail_run: str, stop_run: str) -> None:
    train_epoch, step = trainer.train_epoch, trainer.step

    def counted_epoch(r, n, emit, stop, name, *args, **kw):
        calls = iter(range(1, 1_000_000))

        def counted_step(*a):
            k = next(calls)
            if n == 2 and name == fail_run and k == 3:
                raise RuntimeError("an injected failure")
            if n == 2 and name == stop_run and k == 5:
                os.kill(os.getpid(), signal.SIGINT)
            return step(*a)

        trainer.step = counted_step
        try:
            return train_epoch(r, n, emit, stop, name, *args, **kw)
        finally:
            trainer.step = step

    trainer.train_epoch = counted_epoch


if __name__ == "__main__":
    fail_run, stop_run, *args = sys.argv[1:]
    interrupt(fail_run, stop_run)
    sys.exit(main(args))
