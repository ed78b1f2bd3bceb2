"""What the trainer tells its listener. Small frozen dataclasses, safe to hand across threads."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunStarted:
    run: str
    experiment: str
    run_dir: str
    epochs: int
    batches: int          # training batches per epoch
    device: str
    first_epoch: int = 1  # > 1 when resuming
    precision: str = ""   # what the run trains in: fp32 or bf16 (precision=auto resolved)
    # where it trains, as far as the emitter knows (the console's queue view shows it): the
    # process that holds the run's lock (host, pid), a --parallel worker slot (1, 2, ...; 0: none)
    # and a Ray node (core.ray_nodes.node_name: its id and IP; "": not on Ray)
    host: str = ""
    pid: int = 0
    worker: int = 0
    node: str = ""


@dataclass(frozen=True)
class BatchProgress:
    run: str
    epoch: int
    batch: int            # batches done in this epoch
    batches: int
    train_loss: float | None = None  # running mean cross-entropy of this epoch so far
    phase: str = "train"  # train | eval (the test set is being evaluated)


@dataclass(frozen=True)
class EpochDone:
    run: str
    epoch: int
    epochs: int
    metrics: dict = field(hash=False)  # the metrics.jsonl row: train_loss, test_acc, seconds, ...


@dataclass(frozen=True)
class RunNote:
    """Something the placement says about a run, e.g. that Ray retried it on another node."""
    run: str
    message: str


@dataclass(frozen=True)
class RunEnded:
    run: str
    status: str           # finished | stopped | failed | diverged
    message: str = ""
    epochs_done: int = 0
    run_dir: str = ""
    cause: str = ""       # for failed runs: data | record | disk | oom | internal
    advice: object = field(default=None, compare=False)  # core.advice.Advice: `message`'s advice as a value


STATUSES = ("finished", "stopped", "failed", "diverged")
