"""The study's report: `cifar-tui report EXPERIMENT… [--out DIR]` and the console's `w` key.

One folder: report.html (self-contained: figures inline as SVG, styles inline, no URL of any
kind), report.md embedding figures/*.svg, figures/ (each figure as SVG, PNG and the points it
drew as JSON) and the CSVs `compare --csv` writes. The numbers and words come from
core.compare / core.verdicts through tui.report (compare's table cells and sentences); this
module only lays them out. Nothing is written in a run folder: the output folder may not be
one, and every file goes through a temp file and a rename, so a link is replaced, never followed.
"""
from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.compare import CompareError, Comparison, compare_paths
from core.findruns import preset_margin, resolve
from core.config import make_config
from core.records import CONFIG, METRICS, atomic_write, probe_writable, read_meta, safe_name
from core.verdicts import recipe_difference
from tui import notebook
from tui.confdiff import change, changes, describe
from tui.report import ONE_RULE, baseline_words, csv_paths, write_csv
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


def _check_not_empty(target: str, logdir: Path) -> None:
    """An experiment folder without a run says so (resolve() would call it no experiment)."""
    for folder in (Path(target), logdir / target):
        if folder.is_dir() and not (folder / CONFIG).is_file() and not any(folder.glob(f"*/{CONFIG}")):
            raise CompareError(f"the experiment {target} holds no runs yet; train its runs first "
                               f"(e.g. cifar-tui run PRESET --experiment {folder.name}), then write the report.")


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


def draw_figures(comparison: Comparison, out: Path, colours: dict) -> dict:
    from tui.sentences import LABELS
    from tui.studyfigures import draw, group_lines

    figures = {}
    for experiment in experiments(comparison):
        groups = [g for g in comparison.groups if g.experiment == experiment]
        for metric in METRICS:
            stem = f"{safe_name(experiment)}-{metric}"
            drawn = draw(group_lines(groups, metric, colours), f"{experiment}: {LABELS[metric]}", metric,
                         out / "figures" / f"{stem}.svg", out / "figures" / f"{stem}.png")
            _write(out / "figures" / f"{stem}.json", json.dumps(drawn, indent=1))
            figures[experiment, metric] = {**drawn, "stem": stem}
    return figures


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


# --- writing ------------------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), sync=False)


def write_report(paths: list[Path], out, title: str, run_colours: dict | None = None,
                 listed: bool = False) -> Report:
    """Check the runs and the folder (CompareError: one sentence, nothing written), then write
    the report of the run folders `paths` into `out`, compared as `compare` does (the preset's
    equivalence margin; `listed`: run folders the user named, one reference for all).
    `run_colours`: the console's colours of its runs (resolved run folder -> xterm colour)."""
    from tui import studypage

    out = Path(out)
    comparison = compare_paths(paths, margin=preset_margin([Path(p).resolve().parent.name for p in paths]),
                               one_reference=listed)
    check_runs(comparison)
    check_out(out)
    colours = group_colours(comparison, run_colours)
    report = Report(out)
    report.figures = draw_figures(comparison, out, colours)
    for stale in csv_paths(out / CSV):  # a link left there is removed, not written through
        stale.unlink(missing_ok=True)
    report.files += list(write_csv(out / CSV, comparison))
    parts = {"title": title, "comparison": comparison, "figures": report.figures, "colours": colours,
             "out": out}
    _write(out / "report.md", studypage.markdown_page(**parts))
    _write(out / "report.html", studypage.html_page(**parts))
    report.files += [out / "report.html", out / "report.md", out / "figures"]
    return report


def title_of(paths: list[Path]) -> str:
    """The experiment's name, or the experiments the runs come from (as compare titles them)."""
    names = list(dict.fromkeys(Path(p).resolve().parent.name for p in paths))
    return names[0] if len(names) == 1 else "runs from " + ", ".join(names)


def default_out(title: str) -> Path:
    return Path("reports") / safe_name(title, "report")


def report_command(targets: list[str], logdir, out=None, console=None) -> int:
    """What `cifar-tui report` does; CompareError (exit 2) for bad input."""
    from rich.console import Console

    console = console or Console()
    if not targets:
        raise CompareError("name the experiments to report, e.g. cifar-tui report quick-demo.")
    for target in targets:
        _check_not_empty(target, Path(logdir))
    title, paths = resolve(targets, logdir)
    started = time.monotonic()
    listed = any((Path(t) / CONFIG).is_file() for t in targets)  # as compare: the first is the reference
    report = write_report(paths, out or default_out(title), title, listed=listed)
    console.print(f"wrote {report.out / 'report.html'}, {report.out / 'report.md'}, {len(report.figures)} "
                  f"figures in {report.out / 'figures'} and the CSVs ({time.monotonic() - started:.1f}s)",
                  highlight=False)
    return 0
