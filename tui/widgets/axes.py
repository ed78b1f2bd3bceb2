"""Axis arithmetic for the charts: round ticks that bracket the data, labels on the right rows.

Pure functions, no plotting library, so the tests can check them directly.

plotext maps a value v on an axis with limits (lo, hi) spanning n cells to cell
floor(0.5 + (n - 1)(v - lo)/(hi - lo)). Tick labels use character rows; braille data
uses four sub-rows per character row, so with its own rounding a point equal to a
tick's value can land a row away from that tick's label. Two things keep them together:
the limits reach a row's half beyond the outer ticks, so each row holds the values
nearest its middle (the outer ticks' rows too); and `label_positions` puts each label
on the row where a point of its value is drawn.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

STEPS = (1, 2, 5)
MAX_Y_TICKS = 6  # more labels than this on a short chart only add clutter
BRAILLE_ROWS = 4  # braille sub-rows per character row


@dataclass(frozen=True)
class Axis:
    lo: float            # the limits to give the plot (log10 units on a log axis)
    hi: float
    ticks: list[float]   # tick values in data units, evenly spaced (log: 1-2-5 values)
    labels: list[str]
    log: bool = False


def nice_steps(start: float):
    """1-2-5 steps (…, 0.1, 0.2, 0.5, 1, 2, …) from the largest one not above `start`, upwards."""
    exponent = math.floor(math.log10(start))
    while True:
        for m in STEPS:
            step = m * 10.0 ** exponent
            if step >= start * (1 - 1e-9):
                yield step
        exponent += 1


def decimals(step: float) -> int:
    """Decimals that show every multiple of `step` exactly (1-2-5 steps only)."""
    return max(0, -math.floor(math.log10(step) + 1e-9))


def span_limits(values: list[float], min_span: float, floor: float | None = None,
                ceiling: float | None = None) -> tuple[float, float]:
    """The data's range, widened about its middle to at least `min_span` (so noise on a flat
    curve stays small) and shifted to stay within [floor, ceiling] where the data allows."""
    lo, hi = min(values), max(values)
    if hi - lo >= min_span:
        return lo, hi
    mid = (lo + hi) / 2
    lo, hi = mid - min_span / 2, mid + min_span / 2
    if floor is not None and lo < floor:
        lo, hi = floor, floor + min_span
    if ceiling is not None and hi > ceiling:
        lo, hi = max(ceiling - min_span, floor if floor is not None else -math.inf), ceiling
    return lo, hi


def most_ticks(rows: int) -> int:
    """About one label every other row, at most MAX_Y_TICKS, at least the two ends."""
    return max(2, min(MAX_Y_TICKS, (rows + 1) // 2 + 1))


def y_axis(values: list[float], rows: int, min_span: float, floor: float | None = None,
           ceiling: float | None = None, log: bool = False) -> Axis:
    """Round ticks, evenly spaced, that bracket `values` on a plot `rows` character rows tall.

    Linear: every tick in the middle of a row, a whole number of rows apart, so a point is
    drawn on a labelled row only when its value is within half a row of that label. Of the
    layouts that do this (tick values: multiples of a 1-2-5 step, every one or every other of
    them labelled), the one that draws the data tallest.
    Log: values of the 1-2-5 sequence (…, 0.5, 1, 2, 5, …) that bracket the data."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        finite = [0.1, 1.0] if log else [floor if floor is not None else 0.0,
                                         ceiling if ceiling is not None else 1.0]
    lo, hi = span_limits(finite, min_span, None if log else floor, ceiling)
    most = most_ticks(rows)
    if log:
        return _log_axis(lo if lo > 0 else min(finite), hi, most, rows)
    best = _layout(lo, hi, rows, most, 3, 2) or _layout(lo, hi, rows, most, 2, 1)
    ticks, bottom_row, per_row = best
    places = min(d for d in range(12) if all(math.isclose(t, round(t, d), abs_tol=1e-9) for t in ticks))
    return Axis(*limits(ticks[0], bottom_row, per_row, rows), ticks, [f"{t:.{places}f}" for t in ticks])


def _layout(lo: float, hi: float, rows: int, most: int, fewest: int, min_gap: int):
    """(ticks, row of the lowest, value per row) drawing [lo, hi] tallest, or None.

    Ticks: every (or every other) multiple of a 1-2-5 step, from the one at or below lo to the
    one at or above hi, `stride` times the step itself a 1-2-5 value; between `fewest` and
    `most` of them, `gap` ≥ min_gap rows apart. Ticks at multiples of their own spacing
    (0, 1, 2 rather than 0.5, 1.5, 2.5) win unless the other draws the data a sixth taller;
    ties go to a coarser step, then to fewer labels."""
    best, best_score = None, None
    for step in itertools.islice(nice_steps((hi - lo) / (BRAILLE_ROWS * rows)), 12):
        first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        last = max(last, first + 1)
        n = last - first
        for stride in (1, 2):  # label every multiple or every other: 0.5, 1.5, 2.5 but not 0.4, 1.4, 2.4
            labels = n // stride + 1
            if n % stride or not fewest <= labels <= most or not _is_round(stride * step):
                continue
            gap = (rows - 1) // (labels - 1)
            if gap < min_gap:
                continue
            per_row = stride * step / gap
            aligned = first % stride == 0  # 0.1, 0.2, 0.3 read easier than 0.05, 0.15, 0.25
            height = (hi - lo) / per_row * (1 if aligned else UNALIGNED_WORTH)
            score = (round(height, 6), aligned, step, -labels)
            if best_score is None or score > best_score:
                ticks = [k * step for k in range(first, last + 1, stride)]
                best, best_score = (ticks, (rows - 1 - gap * (labels - 1)) // 2, per_row), score
    return best


UNALIGNED_WORTH = 0.85


def _is_round(value: float) -> bool:
    """1, 2 or 5 times a power of ten."""
    return _mantissa(value) in STEPS and math.isclose(value, _mantissa(value) * 10.0 ** math.floor(math.log10(value) + 1e-9))


def limits(bottom: float, bottom_row: int, per_row: float, rows: int) -> tuple[float, float]:
    """Limits that put `bottom` in the middle of row `bottom_row` (in braille dots: 2 of 4
    from its edge) with `per_row` of value to a row, so every tick a whole number of rows
    above it is in the middle of its row too, and each row holds the values nearest its middle."""
    per_dot = per_row / BRAILLE_ROWS
    low = bottom - (BRAILLE_ROWS * bottom_row + BRAILLE_ROWS / 2 - 0.5) * per_dot  # 0.5: plotext's rounding
    return low, low + (BRAILLE_ROWS * rows - 1) * per_dot


def _log_axis(lo: float, hi: float, most: int, rows: int) -> Axis:
    values = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2)
              for m in STEPS]
    below = max(v for v in values if v <= lo * (1 + 1e-9))
    above = min(v for v in values if v > below and v >= hi * (1 - 1e-9))
    ticks = [v for v in values if below <= v <= above]
    if len(ticks) > most:  # a wide range: the decades (and the two ends) only
        ticks = [t for t in ticks if t in (below, above) or _mantissa(t) == 1]
    if len(ticks) > most:
        keep = {round(k * (len(ticks) - 1) / (most - 1)) for k in range(most)}
        ticks = [t for k, t in enumerate(ticks) if k in keep]
    labels = [f"{t:.{decimals(t)}f}" for t in ticks]
    low, high = math.log10(below), math.log10(above)
    return Axis(*limits(low, 0, (high - low) / max(rows - 1, 1), rows), ticks, labels, log=True)


def _mantissa(value: float) -> int:
    return round(value / 10.0 ** math.floor(math.log10(value) + 1e-9))


def position(value: float, axis: Axis) -> float:
    """Where `value` is between the limits: 0 at lo, 1 at hi."""
    v = math.log10(value) if axis.log else value
    return (v - axis.lo) / (axis.hi - axis.lo)


def braille_cell(fraction: float, cells: int, sub: int) -> int:
    """The character cell (0 = bottom/left) where plotext draws a braille dot at `fraction`
    of the way between the limits; `sub` dots per cell: 4 down a row, 2 across a column."""
    return math.floor(round(0.5 + (sub * cells - 1) * fraction, 8)) // sub


def drawn_row(value: float, axis: Axis, rows: int) -> int:
    """The character row (0 = bottom) of a braille point of `value` on a plot `rows` rows tall."""
    return braille_cell(position(value, axis), rows, BRAILLE_ROWS)


def on_row(value: float, axis: Axis, rows: int) -> float:
    """The value to give plotext for a character (a label, ◆, ·) to land on the row where a
    braille point of `value` is drawn: the middle of that row in plotext's own rounding."""
    v = axis.lo + drawn_row(value, axis, rows) * (axis.hi - axis.lo) / max(rows - 1, 1)
    return 10 ** v if axis.log else v


def on_column(x: float, lo: float, hi: float, columns: int) -> float:
    """As `on_row`, across: the x for a character to share the column of a braille point at x."""
    column = braille_cell((x - lo) / (hi - lo), columns, 2)
    return lo + column * (hi - lo) / max(columns - 1, 1)


def label_positions(axis: Axis, rows: int) -> tuple[list[float], list[str]]:
    """Tick positions (data units) and labels to give plotext: each label moved to the row
    where a point of its value is drawn; a label that would share a row is left out."""
    positions, labels, used = [], [], set()
    for tick, label in zip(axis.ticks, axis.labels):
        row = drawn_row(tick, axis, rows)
        if row not in used:
            used.add(row)
            positions.append(on_row(tick, axis, rows))
            labels.append(label)
    return positions, labels


def x_ticks(last: int, columns: int) -> list[int]:
    """Whole epochs 1…last: 1, then multiples of a 1-2-5 step, about one per 6 columns."""
    if last <= 1:
        return [1]
    room = max(1, columns // 6)
    step = int(next(s for s in nice_steps(max(1.0, (last - 1) / room))))
    multiples = list(range(step, last + 1, step))
    return multiples if step == 2 else sorted({1, *multiples})
