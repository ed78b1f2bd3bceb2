"""`cifar-tui compare` output: the rich table, the CSV files and the Markdown report.

All numbers come from core.compare; this module only lays them out.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from rich.table import Table
from rich.text import Text

from core.compare import Comparison, RunSummary, as_row, sentence
from core.records import METRICS, record_file_problem

BASE_COLUMNS = ("run", "experiment", "epoch")


def _num(v, signed: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _metric(run: RunSummary, m: str, attr: str = "last") -> str:
    s = run.metrics.get(m)
    return _num(getattr(s, attr)) if s else ""


def _best(run: RunSummary, m: str) -> str:
    s = run.metrics.get(m)
    return f"{s.best:.3f}@{s.best_epoch}" if s else ""


def _label(run: RunSummary) -> str:
    return run.label + (" (baseline)" if run.is_baseline and run.label != "baseline" else "")


# (header, sort key it shows, cell) shared by the table and the Markdown report; narrow
# enough for 80 columns. A --sort key not shown here gets a column of its own.
COLUMNS = (
    ("run", "run", _label),
    ("ep", "epochs", lambda r: str(r.epochs)),
    ("test acc", "test_acc", lambda r: _metric(r, "test_acc")),
    ("smoothed acc", "smoothed_test_acc", lambda r: _metric(r, "test_acc", "smoothed")),
    ("best acc@ep", "best_test_acc", lambda r: _best(r, "test_acc")),
    ("test loss", "test_loss", lambda r: _metric(r, "test_loss")),
    ("min loss@ep", "best_test_loss", lambda r: _best(r, "test_loss")),
    ("loss rise", "rise", lambda r: _num(r.rise)),
    ("train acc", "train_acc", lambda r: _metric(r, "train_acc")),
    ("gap", "gap", lambda r: _num(r.gap)),
)
DELTA_UNDER = set(METRICS)  # columns showing Δ to the baseline


def columns(sort: str) -> list:
    """COLUMNS, plus the sorted-by column when COLUMNS lacks it."""
    if any(key == sort for _, key, _ in COLUMNS):
        return list(COLUMNS)
    return [*COLUMNS, (sort.replace("_", " "), sort, lambda r: _num(r.value(sort)))]


def table(comparison: Comparison, sort: str) -> Table:
    """The summary table, rows in `sort` order, Δ to the baseline under each last value."""
    t = Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")
    for header, key, _ in columns(sort):
        if key == "run":
            t.add_column(header, overflow="fold", min_width=8)
        else:  # two-line headers keep the number columns narrow
            t.add_column(header.replace(" ", "\n") + (" ▾" if key == sort else ""),
                         justify="right", no_wrap=True)
    for run in comparison.sorted(sort):
        cells = []
        for _, key, cell in columns(sort):
            text = Text(cell(run), style="bold" if run.is_baseline and key == "run" else "")
            if key in DELTA_UNDER and not run.is_baseline and key in run.delta:
                text.append(f"\n{run.delta[key]:+.3f}", style="dim")
            cells.append(text)
        t.add_row(*cells)
    return t


def sentences(comparison: Comparison, sort: str) -> list[tuple[str, str]]:
    base = next((r for r in comparison.runs if r.is_baseline), None)
    return [(r.label, sentence(r, base)) for r in comparison.sorted(sort)]


def csv_paths(path) -> tuple[Path, Path]:
    """--csv FILE writes FILE (per-epoch rows) and FILE-summary (one row per run), e.g.
    runs.csv and runs-summary.csv."""
    path = Path(path)
    return path, path.with_name(f"{path.stem}-summary{path.suffix}")


def write_csv(path, comparison: Comparison) -> tuple[Path, Path]:
    """Per-epoch rows (every metrics.jsonl field, one row per run and epoch) and the summary."""
    epochs_path, summary_path = csv_paths(path)
    extra = []  # fields beyond the metrics (seconds, time, penalty...), in first-seen order
    for run in comparison.runs:
        for row in run.rows:
            extra += [k for k in row if k not in extra and k not in METRICS and k != "epoch"]
    with open(epochs_path, "w", newline="") as f:
        w = csv.DictWriter(f, [*BASE_COLUMNS, *METRICS, *extra])
        w.writeheader()
        for run in comparison.runs:
            for row in run.rows:
                w.writerow({"run": run.label, "experiment": run.experiment, **row})
    rows = [as_row(r) for r in comparison.runs]
    with open(summary_path, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]) if rows else ["run"])
        w.writeheader()
        w.writerows(rows)
    return epochs_path, summary_path


def markdown(title: str, comparison: Comparison, sort: str) -> str:
    """The report: the summary table and one sentence per run against the baseline."""
    lines = [f"# Comparison: {title}", "",
             f"Baseline: **{comparison.baseline}**. Sorted by `{sort}`, best first. "
             f"Smoothed = TensorBoard's smoothing at weight {comparison.weight}; "
             "@ gives the epoch of the best accuracy / lowest loss; loss rise = test loss now minus its minimum; "
             "gap = train − test accuracy; Δ = difference to the baseline's last value.", ""]
    headers = []
    for header, key, _ in columns(sort):
        headers.append(header)
        if key in DELTA_UNDER:
            headers.append("Δ")
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for run in comparison.sorted(sort):
        cells = []
        for _, key, cell in columns(sort):
            cells.append(f"**{cell(run)}**" if run.is_baseline and key == "run" else cell(run))
            if key in DELTA_UNDER:
                cells.append(_num(run.delta.get(key), signed=True) if not run.is_baseline else "")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Runs", ""]
    lines += [f"- **{label}**: {text}" for label, text in sentences(comparison, sort)]
    return "\n".join(lines) + "\n"


def write_markdown(path, title: str, comparison: Comparison, sort: str) -> Path:
    Path(path).write_text(markdown(title, comparison, sort), encoding="utf-8")
    return Path(path)


def compare_command(targets: list[str], logdir, sort: str, csv_file=None, md_file=None, console=None) -> int:
    """What `cifar-tui compare` does; CompareError (exit 2) when there is nothing to compare."""
    from rich.console import Console

    from core.compare import SORT_HELP, SORT_KEYS, CompareError, compare_paths, experiments, resolve

    if sort not in SORT_KEYS:
        raise CompareError(f"cannot sort by {sort!r}; sort by one of: {SORT_HELP}.")
    for out in [*(csv_paths(csv_file) if csv_file else ()), *([md_file] if md_file else [])]:
        if problem := record_file_problem(out):
            raise CompareError(problem)
    console = console or Console()
    title, paths = resolve(targets, logdir)
    comparison = compare_paths(paths)
    note = ""
    if not targets:
        others = [name for name, _ in experiments(logdir)[1:]]
        note = f" (the most recent experiment; also: {', '.join(others)})" if others else ""
    console.print(f"[bold]{title}[/]{note}: {len(comparison.runs)} run(s), baseline "
                  f"[bold]{comparison.baseline}[/], sorted by {sort} (best first); "
                  "Δ = difference to the baseline", highlight=False)
    console.print(table(comparison, sort))
    for label, text in sentences(comparison, sort):
        console.print(f"[bold]{label}[/]: {text}", highlight=False)
    try:
        if csv_file:
            for written in write_csv(csv_file, comparison):
                console.print(f"wrote {written}", highlight=False)
        if md_file:
            console.print(f"wrote {write_markdown(md_file, title, comparison, sort)}", highlight=False)
    except OSError as e:
        raise CompareError(f"cannot write {e.filename or 'the report'} ({e.strerror or e}); "
                           "choose another file.") from None
    return 0
