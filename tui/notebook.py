"""What the original notebook reported: test accuracy at epoch 40 on real CIFAR-10 (DESIGN.md),
keyed by (preset, run name), so a report can put the measured mean ± sd beside it."""
from __future__ import annotations

EPOCH = 40
_EX1 = {"baseline": 0.575, "normalization": 0.655, "augmentation": 0.651, "augmentation+normalization": 0.650}
_EX2 = {"baseline": 0.575, "l2": 0.663, "l1": 0.641, "dropout": 0.678}
_EX3 = {"adam-lr0.001": 0.636, "adam-lr0.01": 0.100, "adam-lr0.00001": 0.413}
TEST_ACC = {
    **{("ex1-normalization-augmentation", run): v for run, v in _EX1.items()},
    **{("ex2-regularization", run): v for run, v in _EX2.items()},
    **{("ex3-optimizers", run): v for run, v in _EX3.items()},
    ("baseline", "baseline"): 0.575,
}


def reported(experiment: str, run: str) -> float | None:
    """The notebook's test accuracy at epoch 40 for a preset's run, or None."""
    return TEST_ACC.get((experiment, run))
