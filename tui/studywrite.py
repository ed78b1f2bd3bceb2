"""Writing a study report: check the runs and the folder, then the figures, the CSVs,
report.md and report.html (`cifar-tui report` and the console's `w`). What goes in the
report is tui.studyreport's; how a page reads, tui.studypage's."""
from __future__ import annotations

import json
import time
from pathlib import Path

from core.compare import CompareError, Comparison, compare_paths
from core.findruns import preset_margin, resolve
from core.records import CONFIG, METRICS, atomic_write, safe_name
from tui import studypage
from tui.report import csv_paths, write_csv
from tui.studyreport import CSV, Report, check_out, check_runs, experiments, group_colours


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), sync=False)


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


def _check_not_empty(target: str, logdir: Path) -> None:
    """An experiment folder without a run says so (resolve() would call it no experiment)."""
    for folder in (Path(target), logdir / target):
        if folder.is_dir() and not (folder / CONFIG).is_file() and not any(folder.glob(f"*/{CONFIG}")):
            raise CompareError(f"the experiment {target} holds no runs yet; train its runs first "
                               f"(e.g. cifar-tui run PRESET --experiment {folder.name}), then write the report.")


def write_report(paths: list[Path], out, title: str, run_colours: dict | None = None,
                 listed: bool = False) -> Report:
    """Check the runs and the folder (CompareError: one sentence, nothing written), then write
    the report of the run folders `paths` into `out`, compared as `compare` does (the preset's
    equivalence margin; `listed`: run folders the user named, one reference for all).
    `run_colours`: the console's colours of its runs (resolved run folder -> xterm colour)."""
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
