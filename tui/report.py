"""`cifar-tui compare` output: the rich table, the CSV files and the Markdown report.

All numbers come from core.compare; this module only lays them out. One row per group of
seeds (a run of a preset repeated over seeds; a run with one seed is a group of one).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from core.compare import Comparison, as_group_row, as_row
from core.records import CONFIG, METRICS, atomic_write, read_run, record_file_problem
from core.summaries import VERDICT_METRIC, GroupSummary
from core.verdicts import MAX_SEEDS, MIN_SEEDS, margin_words
from tui.labels import fit as fit_labels
from tui.sentences import sentence

BASE_COLUMNS = ("run", "experiment", "group", "seed", "epoch")
VERDICT_WIDTH = 18  # room the verdict keeps at narrow widths: "no detectable" / "difference (n = 3)"
ONE_RULE = ("the test is paired by seed where both runs hold the same seeds, else Welch's; "
            "p and the interval are both Bonferroni-adjusted over the m runs tested (each interval at "
            "1 − 0.05/m: 95% for all together), so an interval excludes 0 exactly when the adjusted p < 0.05")


def _num(v, signed: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _pm(s) -> str:
    """mean±sd of a core.stats.Spread; the mean alone for one seed."""
    if s is None:
        return ""
    return _num(s.mean) if s.sd is None else f"{_num(s.mean)}±{s.sd:.3f}"


def _epoch(s) -> str:
    return f"{s.mean:g}" if not s.sd else f"{s.mean:.1f}"


def _metric(g: GroupSummary, m: str, attr: str = "last") -> str:
    s = g.metrics.get(m)
    return _pm(getattr(s, attr)) if s else ""


def _best(g: GroupSummary, m: str) -> str:
    s = g.metrics.get(m)
    return f"{_pm(s.best)}@{_epoch(s.best_epoch)}" if s else ""


def _delta(g: GroupSummary) -> str:
    """Δ of the means and the half-width of its adjusted interval (none without spread)."""
    c = g.contrasts.get(VERDICT_METRIC)
    if c is None:
        return ""
    spread = c.low is not None and c.high > c.low
    return _num(c.delta, signed=True) + (f"±{(c.high - c.low) / 2:.3f}" if spread else "")


def _p(g: GroupSummary) -> str:
    c = g.contrasts.get(VERDICT_METRIC)
    if c is None or c.p_adj is None or math.isnan(c.p_adj):
        return ""
    return "<0.001" if c.p_adj < 0.001 else f"{c.p_adj:.3f}"


def _detectable(g: GroupSummary) -> str:
    c = g.contrasts.get(VERDICT_METRIC)
    return f"{c.detectable:.3f}" if c and c.detectable is not None else ""


def _needed(g: GroupSummary) -> str:
    c = g.contrasts.get(VERDICT_METRIC)
    if c is None or c.needed is None:
        return ""
    return f">{MAX_SEEDS}" if c.needed > MAX_SEEDS else str(c.needed)


def _label(g: GroupSummary) -> str:
    return g.label + (" (reference)" if g.is_baseline and g.label != "baseline" else "")


def _spread_of(attr):
    return lambda g: _pm(getattr(g, attr))


def _epochs(g: GroupSummary) -> str:
    got = {r.epochs for r in g.used}
    return str(min(got)) if len(got) == 1 else f"{min(got)}-{max(got)}" if got else "0"


# (header, sort key it shows, cell) shared by the table, the compare screen and the Markdown
# report: one cell per group, mean±sd over its seeds. A --sort key not shown here gets a
# column of its own.
COLUMNS = (
    ("run", "run", _label),
    ("n", "n", lambda g: str(g.n)),
    ("test acc", "test_acc", lambda g: _metric(g, "test_acc")),
    ("Δ acc ±95% CI", "delta_test_acc", _delta),
    ("p adj", "p", _p),
    ("verdict", "verdict", lambda g: g.verdict),
    ("ep", "epochs", _epochs),
    ("smoothed acc", "smoothed_test_acc", lambda g: _metric(g, "test_acc", "smoothed")),
    ("best acc@ep", "best_test_acc", lambda g: _best(g, "test_acc")),
    ("test loss", "test_loss", lambda g: _metric(g, "test_loss")),
    ("min loss@ep", "best_test_loss", lambda g: _best(g, "test_loss")),
    ("loss rise", "rise", _spread_of("rise")),
    ("train acc", "train_acc", lambda g: _metric(g, "train_acc")),
    ("gap", "gap", _spread_of("gap")),
    ("detects Δ≥", "detectable", _detectable),
    ("seeds for Δ", "seeds_needed", _needed),
)
ESSENTIAL = ("run", "n", "test_acc", "delta_test_acc", "p", "verdict")  # kept at any width
DELTA_UNDER = {"test_loss", "train_acc", "train_loss"}  # columns showing Δ of the means under the value


def columns(sort: str) -> list:
    """COLUMNS, plus the sorted-by column when COLUMNS lacks it."""
    if any(key == sort for _, key, _ in COLUMNS):
        return list(COLUMNS)
    header = sort.replace("delta_", "Δ ").replace("_", " ")
    return [*COLUMNS, (header, sort, lambda g: _num(g.value(sort), signed=sort.startswith("delta_")))]


def fit(comparison: Comparison, sort: str, console) -> tuple[list, list]:
    """(the columns that fit the console's width, the headers of those left out): the
    essential ones always, then the sorted-by one and the others in COLUMNS order while they
    fit; the verdict goes last (it may wrap within its row; nothing else does)."""
    cols = columns(sort)
    verdict = next(c for c in cols if c[1] == "verdict")
    keep = [c for c in cols if c[1] in ESSENTIAL and c is not verdict]
    longest = max((len(g.verdict) for g in comparison.groups), default=0)
    room = console.width - min(VERDICT_WIDTH, max(longest, len("verdict"))) - 1
    optional = sorted((c for c in cols if c not in keep and c is not verdict), key=lambda c: c[1] != sort)
    for col in optional:
        trial = [c for c in cols if c in keep or c is col]
        if Measurement.get(console, console.options, _table(comparison, sort, trial)).maximum <= room:
            keep = trial
    return keep + [verdict], [c[0] for c in optional if c not in keep]


def run_names(comparison: Comparison, sort: str, cols: list, console) -> dict:
    """Each group's run cell, whole where the console's width allows; else shortened so the
    verdict keeps its room and no two names read alike (tui.labels.fit)."""
    full = {g.label: _label(g) for g in comparison.groups}
    longest = max(map(len, full.values()), default=0)
    verdict = [c for c in cols if c[1] == "verdict"]
    others = [c for c in cols if c[1] != "verdict"]
    used = Measurement.get(console, console.options, _table(comparison, sort, others)).maximum
    verdicts = max((len(g.verdict) for g in comparison.groups), default=0)
    spare = console.width - used - (min(VERDICT_WIDTH, max(verdicts, len("verdict"))) + 1 if verdict else 0)
    return dict(zip(full, fit_labels(list(full.values()), max(8, longest + min(spare, 0)))))


def _table(comparison: Comparison, sort: str, cols: list, names: dict | None = None) -> Table:
    t = Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")
    for header, key, _ in cols:
        mark = " ▾" if key == sort else ""
        if key == "run":
            t.add_column(header + mark, no_wrap=True, min_width=8)
        elif key == "verdict":
            t.add_column(header + mark, overflow="fold")
        else:  # two-line headers keep the number columns narrow
            t.add_column(header.replace(" ", "\n", 1) + mark, justify="right", no_wrap=True)
    for k, g in enumerate(comparison.sorted(sort)):
        if k:  # a blank line between rows: a row's second line never reads as the next row's
            t.add_row()
        cells = []
        for _, key, cell in cols:
            value = names[g.label] if names and key == "run" else cell(g)
            text = Text(value, style="bold" if g.is_baseline and key == "run" else "")
            if key == "run" and g.status != "finished":
                text.append(f"\n  {g.status}", style="dim")
            if key in DELTA_UNDER and not g.is_baseline and key in g.contrasts:
                text.append(f"\n{g.contrasts[key].delta:+.3f}", style="dim")
            cells.append(text)
        t.add_row(*cells)
    return t


def table(comparison: Comparison, sort: str, console=None) -> Table:
    """The summary table, one row per group in `sort` order, blank lines between rows; with a
    console, only the columns that fit its width (a run's name is never broken)."""
    if console is None:
        return _table(comparison, sort, columns(sort))
    cols = fit(comparison, sort, console)[0]
    return _table(comparison, sort, cols, run_names(comparison, sort, cols, console))


def sentences(comparison: Comparison, sort: str) -> list[tuple[str, str]]:
    return [(g.label, sentence(g, comparison.reference_of(g), comparison.difference))
            for g in comparison.sorted(sort)]


def csv_paths(path) -> tuple[Path, Path, Path]:
    """--csv FILE writes FILE (one row per run and epoch), FILE-summary (one row per run, i.e.
    per seed) and FILE-groups (one row per group of seeds), e.g. runs.csv, runs-summary.csv
    and runs-groups.csv."""
    path = Path(path)
    return (path, path.with_name(f"{path.stem}-summary{path.suffix}"),
            path.with_name(f"{path.stem}-groups{path.suffix}"))


def write_csv(path, comparison: Comparison) -> tuple[Path, Path, Path]:
    """Per-epoch rows (every metrics.jsonl field, one row per run and epoch), the per-seed
    summary and the per-group summary."""
    epochs_path, summary_path, groups_path = csv_paths(path)
    extra = []  # fields beyond the metrics (seconds, time, penalty...), in first-seen order
    for run in comparison.runs:
        for row in run.rows:
            extra += [k for k in row if k not in extra and k not in METRICS and k != "epoch"]
    per_epoch = [{"run": run.label, "experiment": run.experiment, "group": run.group, "seed": run.seed, **row}
                 for run in comparison.runs for row in run.rows]
    write_output(epochs_path, _csv_text([*BASE_COLUMNS, *METRICS, *extra], per_epoch))
    for out, rows in ((summary_path, [as_row(r) for r in comparison.runs]),
                      (groups_path, [as_group_row(g) for g in comparison.groups])):
        write_output(out, _csv_text(list(rows[0]) if rows else ["run"], rows))
    return epochs_path, summary_path, groups_path


def _csv_text(columns: list, rows: list) -> str:
    f = io.StringIO(newline="")
    w = csv.DictWriter(f, columns)
    w.writeheader()
    w.writerows(rows)
    return f.getvalue()


def write_output(path, text: str) -> None:
    """Every report file is written through a temp file renamed over `path`: never into a file
    that a link (symbolic or hard) shares with a run's record (record_file_problem refuses
    those paths first, with a sentence)."""
    atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")), sync=False)


def baseline_words(comparison: Comparison) -> str:
    label = comparison.baseline
    if comparison.picked:
        return f"{label} (the reference you picked)"
    if label and ", " in label:
        return f"each experiment's own baseline ({label})"
    return "the baseline" if label == "baseline" else f"{label} (the baseline)"


def _reference_note(comparison: Comparison) -> str:
    if comparison.picked:
        return " (picked)"
    return " (each experiment's own)" if comparison.baseline and ", " in comparison.baseline else ""


def _named(comparison: Comparison) -> str:
    words = []
    if comparison.difference:
        words.append(f"; seeds for Δ = seeds a side to detect {margin_words(comparison.difference)}")
    if comparison.margin:
        words.append(f"; equivalence: two one-sided tests within ±{margin_words(comparison.margin)}, "
                     "adjusted like p")
    return "".join(words)


def markdown(title: str, comparison: Comparison, sort: str) -> str:
    """The report: the summary table and one sentence per group against the baseline."""
    lines = [f"# Comparison: {title}", "",
             f"Reference: **{comparison.baseline}**{_reference_note(comparison)}. One row per run, over its "
             f"seeds (n): mean ± sd. Sorted by `{sort}`, best first. Δ = difference of the means to "
             f"the reference, ± the half-width of its 95% confidence interval; {ONE_RULE}. "
             f"The verdict is on the last test accuracy and needs {MIN_SEEDS} seeds a side; "
             "detects Δ≥ = the smallest difference the seeds detect with 80% power at that α"
             f"{_named(comparison)}. "
             f"Smoothed = TensorBoard's smoothing at weight {comparison.weight}; "
             "@ gives the epoch of the best accuracy / lowest loss; loss rise = test loss now minus its minimum; "
             "gap = train − test accuracy.", ""]
    headers = []
    for header, key, _ in columns(sort):
        headers.append(header)
        if key in DELTA_UNDER:
            headers.append("Δ")
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for g in comparison.sorted(sort):
        cells = []
        for _, key, cell in columns(sort):
            cells.append(f"**{cell(g)}**" if g.is_baseline and key == "run" else cell(g))
            if key in DELTA_UNDER:
                c = g.contrasts.get(key)
                cells.append(_num(c.delta, signed=True) if c else "")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Runs", ""]
    lines += [f"- **{label}**: {text}" for label, text in sentences(comparison, sort)]
    return "\n".join(lines) + "\n"


def write_markdown(path, title: str, comparison: Comparison, sort: str) -> Path:
    write_output(path, markdown(title, comparison, sort))
    return Path(path)


def headline(title: str, note: str, comparison: Comparison, sort: str) -> str:
    """The line above the table, e.g. 'quick-demo: 2 runs, 3 seeds each; sorted by ...'."""
    ns = sorted({g.n for g in comparison.groups})
    seeds = (f"{ns[0]} seed{'s' * (ns[0] != 1)} each" if len(ns) == 1
             else f"{ns[0]} to {ns[-1]} seeds each")
    return (f"[bold]{escape(title)}[/]{escape(note)}: {len(comparison.groups)} run(s), {seeds}; sorted by {sort} "
            f"(best first); Δ = difference of the means to {escape(baseline_words(comparison))} "
            f"±95% CI; {ONE_RULE}{escape(_named(comparison))}")


def compare_command(targets: list[str], logdir, sort: str, csv_file=None, md_file=None, console=None,
                    baseline: str | None = None, delta: float | None = None,
                    equivalence: float | None = None) -> int:
    """What `cifar-tui compare` does; CompareError (exit 2) when there is nothing to compare.
    `delta` and `equivalence` are in points of test accuracy; without `equivalence` the
    preset of the one experiment compared may name it."""
    from rich.console import Console

    from core.compare import SORT_HELP, SORT_KEYS, CompareError, compare_paths
    from core.findruns import experiments, preset_margin, resolve

    if sort not in SORT_KEYS:
        raise CompareError(f"cannot sort by {sort!r}; sort by one of: {SORT_HELP}.")
    console = console or Console()
    title, paths = resolve(targets, logdir)
    for out in [*(csv_paths(csv_file) if csv_file else ()), *([md_file] if md_file else [])]:
        if problem := record_file_problem(out, paths, logdir):
            raise CompareError(problem)
    margin = equivalence / 100 if equivalence is not None else preset_margin([p.resolve().parent.name for p in paths])
    listed = any((Path(t) / CONFIG).is_file() for t in targets)  # run folders: the first is the reference
    comparison = compare_paths(paths, baseline=baseline, difference=delta / 100 if delta else None,
                               margin=margin, one_reference=listed)
    note = ""
    if not targets:
        others = [name for name, _ in experiments(logdir)[1:]]
        note = f" (the most recent experiment; also: {', '.join(others)})" if others else ""
    console.print(headline(title, note, comparison, sort), highlight=False)
    console.print(table(comparison, sort, console))
    left_out = fit(comparison, sort, console)[1]
    if left_out:
        console.print(f"[dim]Not shown at this width: {', '.join(left_out)} (a wider terminal, "
                      "--markdown or --csv has them).[/]", highlight=False)
    for label, text in sentences(comparison, sort):
        console.print(f"[bold]{escape(label)}[/]: {escape(text)}", highlight=False)
    for run in comparison.runs:  # what is wrong with a damaged record, and what to do
        if run.status == "damaged":
            console.print(f"[yellow]{escape(run.label)}:[/] {escape(read_run(run.path).message)}", highlight=False)
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
