"""The study's report: `cifar-tui report EXPERIMENT… [--out DIR]` and the console's `w` key.

One folder: report.html (self-contained: figures inline as SVG, styles inline, no URL of any
kind), report.md embedding figures/*.svg, figures/ (each figure as SVG, PNG and the points it
drew as JSON) and the CSVs `compare --csv` writes. The numbers and words come from
core.compare / core.verdicts through tui.report (compare's table cells and sentences); this
module only lays them out. Nothing is written in a run folder: the output folder may not be
one, and every file goes through a temp file and a rename, so a link is replaced, never followed.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from core.compare import CompareError, Comparison
from core.config import make_config
from core.records import CONFIG, probe_writable, read_meta
from core.verdicts import recipe_difference
from tui import notebook
from tui.confdiff import change, changes, describe
from tui.report import ONE_RULE, baseline_words
from tui.runview import PALETTE

SORT = "test_acc"
UNFINISHED = ("running", "stopped", "interrupted", "unknown")  # a report waits for these
CSV = "runs.csv"


@dataclass
class Report:
    """What `write_report` wrote: the folder, its files and each figure's drawn points."""
    out: Path
    files: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # (experiment, metric) -> draw()'s answer


# --- bad input: one sentence each ---------------------------------------------------------

def check_runs(comparison: Comparison) -> None:
    """Every run finished (or ended for good: failed, diverged), and one recipe throughout."""
    for r in comparison.runs:
        if r.status == "damaged":
            raise CompareError(f"{r.path} is damaged; repair or remove it, then write the report.")
        if r.status in UNFINISHED:
            raise CompareError(f"{r.label} has not finished ({r.status} after {r.epochs} epoch"
                               f"{'s' * (r.epochs != 1)}); let it finish or resume it "
                               f"(cifar-tui run --resume {r.path}), then write the report.")
    first = comparison.groups[0]
    for g in comparison.groups[1:]:
        if differs := recipe_difference(g.config, first.config):
            raise CompareError(f"{g.label} and {first.label} were trained to different recipes ({differs}); "
                               "report runs of one recipe, e.g. one experiment at a time.")


def check_out(out: Path) -> None:
    """`out` is a writable folder outside every run folder (made if missing); nothing is made
    when it is not."""
    for folder in (out, out / "figures"):
        resolved = folder.resolve()
        for p in (resolved, *resolved.parents):
            if (p / CONFIG).is_file():
                where = "is a run folder" if p == resolved else f"is inside the run folder {p}"
                raise CompareError(f"{folder} {where}; write the report elsewhere with --out DIR.")
    for folder in (out, out / "figures"):
        try:
            probe_writable(folder)
        except OSError as e:
            raise CompareError(f"cannot write the report in {folder} ({e.strerror or e}); "
                               "choose another folder with --out DIR.") from None


# --- the parts --------------------------------------------------------------------------

def group_colours(comparison: Comparison, run_colours: dict | None = None) -> dict:
    """Group label -> #rrggbb, the console's colour: its first run's in `run_colours` (resolved
    run folder -> xterm colour, the console's own) or, without it, as the console gives them:
    the palette in order, one colour per group of seeds."""
    from tui.studyfigures import hex_colour

    run_colours = run_colours or {}
    out = {}
    for k, g in enumerate(comparison.groups):
        given = [run_colours[key] for key in (str(r.path.resolve()) for r in g.runs) if key in run_colours]
        out[g.label] = hex_colour(given[0] if given else PALETTE[k % len(PALETTE)])
    return out


def experiments(comparison: Comparison) -> list[str]:
    return list(dict.fromkeys(g.experiment for g in comparison.groups))


def _metas(g) -> list[dict]:
    return [read_meta(r.path)[0] or {} for r in g.runs]


def _joined(values) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values if v not in (None, ""))) or "unknown"


def command(g) -> str:
    """The command line that trains the group's runs again (every seed, its settings)."""
    defaults = make_config({}).to_dict()
    seeds = [r.seed for r in g.runs if r.seed is not None]
    words = ["cifar-tui", "run", "--experiment", g.experiment, "--name", g.name]
    if len(seeds) > 1:  # folders <name>-s<seed>, one group
        words += ["--seeds", ",".join(map(str, seeds))]
    elif seeds:
        words += ["--set", f"seed={seeds[0]}"]
    for key, value in g.config.items():
        if key in ("data_dir", "seed") or value == defaults.get(key):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        words += ["--set", f"{key}={text}"]
    return shlex.join(words)


def environment(g) -> dict:
    metas = _metas(g)
    return {"device": _joined(m.get("device") for m in metas),
            "precision": _joined((m.get("config") or {}).get("precision") for m in metas),
            "torch": _joined(m.get("torch") for m in metas),
            "torchvision": _joined(m.get("torchvision") for m in metas),
            "cifar-tui": _joined(m.get("cifar_tui") for m in metas),
            "data": _joined(f"{(m.get('config') or {}).get('dataset')}, {m.get('train_images', '?')} train / "
                            f"{m.get('test_images', '?')} test images" for m in metas),
            "command": command(g)}


def _no_seed(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "seed"}


def differences(comparison: Comparison) -> tuple[str, list[tuple[str, str, str]]]:
    """(the settings every group shares, [(group, its reference, what differs from it)])."""
    configs = [_no_seed(g.config) for g in comparison.groups]
    skip = {"data_dir", "device"} | ({"reg_strength"} if configs[0].get("regularizer") == "none" else set())
    shared = [k for k in configs[0] if k not in skip and all(c.get(k) == configs[0].get(k) for c in configs)]
    rows = []
    for g in comparison.groups:
        base = comparison.reference_of(g)
        if base is not None:
            rows.append((g.label, base.label, describe(changes(_no_seed(base.config), _no_seed(g.config)))
                         or "the same settings"))
    return ", ".join(change(k, configs[0])[0] for k in shared), rows


def notebook_rows(comparison: Comparison) -> list[tuple[str, float, str, str]]:
    """(group, the notebook's test accuracy at epoch 40, measured mean ± sd, at epoch) for the
    reference study's presets."""
    rows = []
    for g in comparison.groups:
        reported = notebook.reported(g.experiment, g.name)
        ta = g.metrics.get("test_acc")
        if reported is None or ta is None:
            continue
        s = ta.last
        rows.append((g.label, reported, f"{s.mean:.3f}" + (f" ± {s.sd:.3f}" if s.sd is not None else ""),
                     str(g.last_epoch)))
    return rows


def synthetic(comparison: Comparison) -> bool:
    return any(g.config.get("dataset") == "synthetic" for g in comparison.groups)


SYNTHETIC_NOTE = ("These runs trained on the synthetic stand-in data set, not CIFAR-10: their numbers mean "
                  "nothing against the notebook's.")


def explanation(comparison: Comparison) -> str:
    return (f"One row per run over its seeds (n): mean ± sd of the last epoch. Δ = difference of the means "
            f"to {baseline_words(comparison)} ± the half-width of its confidence interval; {ONE_RULE}. "
            "The verdict is on the last test accuracy.")
