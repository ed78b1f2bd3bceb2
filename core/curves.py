"""One metric's curve as TensorBoard reads it: smoothed, its best value and epoch, where
test loss bottoms out and has risen since, and a group's band over its seeds' curves.

Shared by the comparison (core.summaries) and the console's charts, so both smooth and mark
the onset the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .groups import Band, band

DEFAULT_WEIGHT = 0.6  # TensorBoard's default smoothing
LOWER_IS_BETTER = {"train_loss": True, "test_loss": True, "train_acc": False, "test_acc": False}


def smooth(values, weight: float = DEFAULT_WEIGHT) -> list[float]:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    Mirrors `classicSmoothing` in tensorflow/tensorboard
    tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts (same as the older
    vz_line_chart2/line-chart.ts resmoothDataset):
        last = last * w + (1 - w) * value;  n += 1;  smoothed = last / (1 - w ** n)
    starting from last = 0; non-finite values pass through unsmoothed and are not counted,
    and a constant series is returned as is.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), not {weight}.")
    values = [float(v) for v in values]
    if not values or all(v == values[0] for v in values):
        return values
    last, n, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return out


@dataclass(frozen=True)
class MetricSummary:
    last: float
    smoothed: float  # TensorBoard-smoothed value at the last epoch
    best: float      # min for a loss, max for an accuracy
    best_epoch: int  # first epoch that reached `best`


def summarize_metric(epochs: list[int], values: list[float], metric: str,
                     weight: float = DEFAULT_WEIGHT) -> MetricSummary | None:
    finite = [(v, e) for e, v in zip(epochs, values) if math.isfinite(v)]
    if not finite:
        return None
    pick = min if LOWER_IS_BETTER[metric] else max
    best = pick(v for v, _ in finite)
    best_epoch = next(e for v, e in finite if v == best)
    return MetricSummary(values[-1], smooth(values, weight)[-1], best, best_epoch)


ONSET_MIN_RISE = 0.01  # a test loss up by less than 1% of its minimum is noise, not overfitting


def has_risen(lowest: float, last: float) -> bool:
    """Test loss has risen clearly since its minimum (a flat run's wobble of 2.3017 -> 2.3019 has not)."""
    return last > lowest + abs(lowest) * ONSET_MIN_RISE


def overfit_onset(epochs: list[int], test_loss: list[float]) -> int | None:
    """The onset a chart marks: the epoch of the lowest test loss once test loss has risen
    clearly since (RunSummary.onset when RunSummary.overfits), else None."""
    s = summarize_metric(epochs, test_loss, "test_loss")
    return s.best_epoch if s is not None and has_risen(s.best, s.last) else None


def series(rows: list[dict], metric: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one metric from metrics.jsonl rows that have it."""
    pairs = [(int(r["epoch"]), float(r[metric])) for r in rows
             if isinstance(r.get(metric), (int, float))]
    return [e for e, _ in pairs], [v for _, v in pairs]


def group_curve(seed_rows, metric: str, weight: float | None = None) -> Band:
    """What a chart draws for a group: per epoch the mean, sd, min and max of `metric` over
    its seeds (`seed_rows`: each seed's metrics.jsonl rows, or a RunView's metrics), each seed
    smoothed first when `weight` is given. A seed still training counts up to its last epoch."""
    curves = []
    for rows in seed_rows:
        epochs, values = series(list(rows), metric)
        curves.append((epochs, smooth(values, weight) if weight else values))
    return band(curves)

