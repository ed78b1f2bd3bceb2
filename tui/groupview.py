"""The charts' groups: the runs on screen that repeat one configuration over seeds.

Runs share a group when they share the experiment, the group name their job or record
gives (a run's own name before seeds existed) and their settings: RunView.group_key, core.groups'
key as `compare` groups them. A group of several seeds is drawn as its mean curve with the
min–max spread (core.curves.group_curve); with `seeds` on, or for a one-seed group, every
run is drawn on its own, exactly as before groups existed.

Plain Python (no Textual), so the tests can check it directly.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.curves import DEFAULT_WEIGHT, group_curve
from tui.labels import group_labels
from tui.runview import RunView


@dataclass
class Curve:
    """One line a chart draws (with its spread, for a group)."""
    label: str
    colour: int
    x: list
    y: list
    view: RunView | None = None  # the run it draws (None: a group's mean); its live epoch is drawn
    smoothed: bool = False       # y is smoothed already (a group: each seed smoothed, then averaged)
    low: list | None = None      # a group's spread: per epoch of x, the lowest and highest seed
    high: list | None = None


def groups(views: list[RunView]) -> list[list[RunView]]:
    """`views` gathered into groups, in the order each group's first run comes (a seed run
    twice is in its group twice; `counted` says which of the two the group's curve uses)."""
    index: dict[tuple, list[RunView]] = {}
    for view in views:
        index.setdefault(view.group_key, []).append(view)
    return list(index.values())


def counted(members: list[RunView]) -> list[RunView]:
    """One run per seed, as `compare` counts them (core.groups): a seed run twice counts by
    its finished run, else its later one."""
    best: dict = {}
    for k, view in enumerate(members):
        seed = view.config.get("seed")  # unknown (no config): taken as the same run started twice
        rank = (view.status == "finished", k)
        if seed not in best or rank > best[seed][0]:
            best[seed] = (rank, view)
    kept = {id(v) for _, v in best.values()}
    return [v for v in members if id(v) in kept]


def curves(views: list[RunView], metric: str, seeds: bool = False, smoothing: bool = False) -> list[Curve]:
    """What a chart of `metric` draws for `views`: a mean with its spread per group of several
    seeds that have something to draw (a group still training: the seeds it has; a seed run
    twice: once), or each run on its own (`seeds`, one-seed groups)."""
    out, bands = [], []
    for members in groups(views):
        drawing = [v for v in counted(members) if v.series(metric)[0]]
        if seeds or len(drawing) < 2:
            out += [Curve(v.label, v.colour, *v.series(metric), view=v) for v in members]
            continue
        band = group_curve([v.metrics for v in drawing], metric, DEFAULT_WEIGHT if smoothing else None)
        out.append(Curve("", drawing[0].colour, list(band.epochs), list(band.mean),
                         smoothed=smoothing, low=list(band.low), high=list(band.high)))
        bands.append((len(out) - 1, drawing))
    for (k, _), label in zip(bands, group_labels([d for _, d in bands])):
        out[k].label = label
    return out
