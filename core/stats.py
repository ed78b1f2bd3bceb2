"""The spread of a group of seeds: n, mean and sample sd. The tests of one group against
another, their intervals and verdicts are core.verdicts'."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

@dataclass(frozen=True)
class Spread:
    """Values over the seeds of a group: n, mean and sample sd (ddof = 1; None for one seed)."""
    n: int
    mean: float
    sd: float | None
    values: tuple = ()


def spread(values) -> Spread | None:
    """mean ± sd of `values`; None when there are none."""
    values = tuple(float(v) for v in values)
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else None
    return Spread(len(values), statistics.fmean(values), sd, values)
