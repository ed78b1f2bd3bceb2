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
    """Round ticks that bracket `values` on a plot `rows` character rows tall.

    Linear: ticks at the multiples of a 1-2-5 step, from the one at or below the smallest
    value to the one at or above the largest. Where it costs the curves little height, the
    ticks sit a whole number of rows apart (evenly spaced on screen too); otherwise the
    finest step that fits spans the whole height and the labels round to their rows.
    Log: values of the 1-2-5 sequence (…, 0.5, 1, 2, 5, …) that bracket the data."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        finite = [0.1, 1.0] if log else [floor if floor is not None else 0.0,
                                         ceiling if ceiling is not None else 1.0]
    lo, hi = span_limits(finite, min_span, None if log else floor, ceiling)
    most = most_ticks(rows)
    if log:
        return _log_axis(lo if lo > 0 else min(finite), hi, most, rows)
    steps = nice_steps((hi - lo) / (most - 1))
    ticks = [_ticks(lo, hi, next(steps)) for _ in range(4)]  # from the finest that fits, coarser
    fine = next(t for t in ticks if len(t) <= most)
    fill = (fine, 0, (rows - 1) / (len(fine) - 1))  # the whole height, labels rounded to rows
    even = [(t, (rows - 1 - gap * (len(t) - 1)) // 2, gap) for t in ticks
            if 3 <= len(t) <= most and (gap := (rows - 1) // (len(t) - 1)) >= (2 if rows >= 5 else 1)]
    best = max(even, key=lambda layout: _rows_used(lo, hi, *layout), default=None)
    if best is None or _rows_used(lo, hi, *best) < EVEN_ROWS_WORTH * _rows_used(lo, hi, *fill):
        best = fill
    ticks, bottom_row, gap = best  # gap: rows between two ticks
    step = ticks[1] - ticks[0]
    places = decimals(step)
    return Axis(*limits(ticks[0], bottom_row, step / gap, rows), ticks, [f"{t:.{places}f}" for t in ticks])


EVEN_ROWS_WORTH = 0.7  # evenly spaced tick rows are worth up to 30% of the curves' height


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    """The multiples of `step` from the one at or below `lo` to the one at or above `hi`."""
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, max(last, first + 1) + 1)]


def _rows_used(lo, hi, ticks, _bottom_row, gap) -> float:
    """How many rows tall the data is drawn."""
    return (hi - lo) / (ticks[1] - ticks[0]) * gap


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
