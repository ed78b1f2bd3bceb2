"""The report's figures: per experiment and metric, every group's mean curve over its seeds
with the seeds' min–max band, in the console's colours and names, as SVG and PNG (matplotlib,
Agg backend, imported here only: the console imports this module only when it writes a report).

Each figure also returns the points matplotlib drew (read back from its artists), so the
report can keep them beside the figure (figures/*.json) and the tests can check them.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from core.curves import group_curve
from tui.sentences import LABELS
from core.records import atomic_write

METRIC_AXES = {"train_loss": "loss", "test_loss": "loss", "train_acc": "accuracy", "test_acc": "accuracy"}


def hex_colour(xterm: int) -> str:
    """An xterm-256 colour (the console's palette) as #rrggbb."""
    from rich.color import Color

    return Color.from_ansi(xterm).get_truecolor().hex


@dataclass
class Line:
    """One group's curve as the figure draws it."""
    label: str     # the console's group label, e.g. 'baseline (n=3)'
    colour: str    # #rrggbb
    epochs: list
    mean: list
    low: list      # per epoch, the lowest and highest seed
    high: list


def group_lines(groups, metric: str, colours: dict) -> list[Line]:
    """The curves of `groups` (core.summaries.GroupSummary) for `metric`: the mean over the seeds
    the statistics use (a group without any: its seeds as they are), with their min–max."""
    out = []
    for g in groups:
        seeds = g.used or [r for r in g.runs if r.rows]
        curve = group_curve([r.rows for r in seeds], metric)
        if curve.epochs:
            out.append(Line(f"{g.name} (n={len(seeds)})", colours[g.label], list(curve.epochs),
                            list(curve.mean), list(curve.low), list(curve.high)))
    return out


def _gid(kind: str, k: int) -> str:
    return f"{kind}-{k}"


def draw(lines: list[Line], title: str, metric: str, svg_path: Path, png_path: Path) -> dict:
    """Draw one figure to `svg_path` and `png_path`; returns what was drawn, read back from
    matplotlib's artists: {"title", "metric", "curves": [{label, colour, epochs, mean, low, high}]}."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cifar-tui", "font.size": 9}):
        fig = Figure(figsize=(6.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
        drawn = []
        for k, line in enumerate(lines):
            band = ax.fill_between(line.epochs, line.low, line.high, color=line.colour, alpha=0.18,
                                   linewidth=0, gid=_gid("band", k))
            (mean,) = ax.plot(line.epochs, line.mean, color=line.colour, linewidth=1.8, label=line.label,
                              marker="o" if len(line.epochs) <= 12 else None, markersize=3, gid=_gid("mean", k))
            xs, ys = mean.get_data()
            edges = band.get_paths()[0].vertices if band.get_paths() else []
            drawn.append({"label": line.label, "colour": line.colour, "epochs": [int(x) for x in xs],
                          "mean": [float(y) for y in ys], "low": line.low, "high": line.high,
                          "band_points": len(edges)})
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(LABELS[metric])
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="best", fontsize=8, frameon=False)
        _save(fig, svg_path, format="svg", metadata={"Date": None})
        _save(fig, png_path, format="png", dpi=150)
    return {"title": title, "metric": metric, "curves": drawn}


def _save(fig, path: Path, **kw) -> None:
    """Rendered in memory, then stored through a temp file and a rename: a link at `path`
    (say, into a run's record) is replaced, never written through."""
    buf = io.BytesIO()
    fig.savefig(buf, **kw)
    atomic_write(path, lambda f: f.write(buf.getvalue()), sync=False)


def inline_svg(svg: str) -> str:
    """An SVG file's text made fit to sit inside an HTML page: no XML prolog, DOCTYPE or
    metadata, and no namespace URLs (HTML's parser puts <svg> in its namespace itself)."""
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    return svg.strip()
