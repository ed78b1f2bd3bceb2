"""Compare runs the way the study reads TensorBoard: last, smoothed and best values, the
generalization gap, where test loss starts rising, and each run against the baseline.

Pure functions over run records (core.records.RunInfo) returning plain dataclasses, so the
CLI and the console's compare screen share them. Runs still training work too: read_metrics
drops a half-written last line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .records import CONFIG, METRICS, RunInfo, list_runs, read_run

DEFAULT_WEIGHT = 0.6  # TensorBoard's default smoothing
LOWER_IS_BETTER = {"train_loss": True, "test_loss": True, "train_acc": False, "test_acc": False}
LABELS = {"train_loss": "train loss", "test_loss": "test loss",
          "train_acc": "train accuracy", "test_acc": "test accuracy"}
# --sort keys and which way is "best first": True = ascending
SORT_KEYS = {
    **{m: LOWER_IS_BETTER[m] for m in METRICS},
    **{f"best_{m}": LOWER_IS_BETTER[m] for m in METRICS},
    **{f"smoothed_{m}": LOWER_IS_BETTER[m] for m in METRICS},
    "gap": True, "onset": False, "rise": True, "epochs": False, "run": True,
}
SORT_HELP = ("train_loss, test_loss, train_acc, test_acc (also with a best_ or smoothed_ prefix), "
             "gap, onset, rise, epochs, run")


class CompareError(ValueError):
    """Nothing (or nothing usable) to compare; the message says what to do."""


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


@dataclass(frozen=True)
class RunSummary:
    label: str               # unique within the comparison (run folder, or experiment/run)
    experiment: str
    path: Path
    status: str
    epochs: int              # finished epochs on record
    last_epoch: int | None
    metrics: dict            # metric -> MetricSummary (only metrics with values)
    gap: float | None        # train_acc - test_acc at the last epoch
    onset: int | None        # epoch of minimum test loss
    rise: float | None       # last test loss - minimum test loss
    is_baseline: bool = False
    delta: dict = field(default_factory=dict)  # metric -> last value - baseline's last value
    rows: tuple = field(default=(), repr=False)  # the metrics.jsonl rows, for curves and CSV

    @property
    def overfits(self) -> bool:
        """Test loss has bottomed out before the last epoch and risen since."""
        return self.rise is not None and self.rise > 0

    def value(self, key: str):
        """A value by sort key (see SORT_KEYS); None when the run has none."""
        if key == "run":
            return self.label
        if key in ("gap", "onset", "rise", "epochs"):
            return getattr(self, key)
        kind, metric = _split_key(key)
        m = self.metrics.get(metric)
        if m is None:
            return None
        return {"": m.last, "best": m.best, "smoothed": m.smoothed}[kind]


def _split_key(key: str) -> tuple[str, str]:
    """'best_test_acc' -> ('best', 'test_acc'); 'test_acc' -> ('', 'test_acc')."""
    for prefix in ("best", "smoothed"):
        if key.startswith(prefix + "_"):
            return prefix, key[len(prefix) + 1:]
    return "", key


@dataclass(frozen=True)
class Comparison:
    runs: tuple          # RunSummary, in the order given (baseline wherever it was)
    baseline: str | None  # label of the baseline run
    weight: float

    def sorted(self, key: str) -> list:
        return sort_runs(self.runs, key)


def summarize_metric(epochs: list[int], values: list[float], metric: str,
                     weight: float = DEFAULT_WEIGHT) -> MetricSummary | None:
    finite = [(v, e) for e, v in zip(epochs, values) if math.isfinite(v)]
    if not finite:
        return None
    pick = min if LOWER_IS_BETTER[metric] else max
    best = pick(v for v, _ in finite)
    best_epoch = next(e for v, e in finite if v == best)
    return MetricSummary(values[-1], smooth(values, weight)[-1], best, best_epoch)


def overfit_onset(epochs: list[int], test_loss: list[float]) -> int | None:
    """The onset a chart marks: the epoch of the lowest test loss once test loss has risen
    since (RunSummary.onset when RunSummary.overfits), else None."""
    s = summarize_metric(epochs, test_loss, "test_loss")
    return s.best_epoch if s is not None and s.last > s.best else None


def series(rows: list[dict], metric: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one metric from metrics.jsonl rows that have it."""
    pairs = [(int(r["epoch"]), float(r[metric])) for r in rows
             if isinstance(r.get(metric), (int, float))]
    return [e for e, _ in pairs], [v for _, v in pairs]


def summarize(info: RunInfo, weight: float = DEFAULT_WEIGHT, label: str | None = None) -> RunSummary:
    """One run's summary from its record."""
    metrics = {}
    for m in METRICS:
        s = summarize_metric(*series(info.metrics, m), m, weight)
        if s is not None:
            metrics[m] = s
    last = info.metrics[-1] if info.metrics else {}
    gap = None
    if isinstance(last.get("train_acc"), (int, float)) and isinstance(last.get("test_acc"), (int, float)):
        gap = last["train_acc"] - last["test_acc"]
    test_loss = metrics.get("test_loss")
    onset = test_loss.best_epoch if test_loss else None
    rise = test_loss.last - test_loss.best if test_loss else None
    return RunSummary(label or info.path.name, info.experiment, info.path, info.status,
                      len(info.metrics), last.get("epoch"), metrics, gap, onset, rise,
                      rows=tuple(info.metrics))


def pick_baseline(infos: list[RunInfo]) -> int | None:
    """Index of the baseline: the run named 'baseline' (folder, then recorded name), else the first."""
    if not infos:
        return None
    for attr in (lambda i: i.path.name, lambda i: i.name):
        for k, info in enumerate(infos):
            if attr(info) == "baseline":
                return k
    return 0


def compare(infos: list[RunInfo], weight: float = DEFAULT_WEIGHT, baseline: str | None = None) -> Comparison:
    """Summaries of `infos` (in their order) with each metric's difference to the baseline.

    `baseline` names a run by label; by default the run named 'baseline', else the first.
    """
    labels = _labels(infos)
    summaries = [summarize(i, weight, lab) for i, lab in zip(infos, labels)]
    if baseline is not None:
        if baseline not in labels:
            raise CompareError(f"no run {baseline!r} to use as baseline; the runs are: {', '.join(labels)}.")
        k = labels.index(baseline)
    else:
        k = pick_baseline(infos)
    if k is None:
        return Comparison((), None, weight)
    base = summaries[k]
    out = []
    for i, s in enumerate(summaries):
        delta = {m: s.metrics[m].last - base.metrics[m].last
                 for m in METRICS if m in s.metrics and m in base.metrics}
        out.append(replace(s, is_baseline=(i == k), delta=delta))
    return Comparison(tuple(out), base.label, weight)


def _labels(infos: list[RunInfo]) -> list[str]:
    """Run folder names, qualified by experiment where two would read the same."""
    names = [i.path.name for i in infos]
    return [f"{i.path.parent.name}/{n}" if names.count(n) > 1 else n for i, n in zip(infos, names)]


def as_row(run: RunSummary) -> dict:
    """The flat summary of a run (one CSV row): None where the run has no value."""
    row = {"run": run.label, "experiment": run.experiment, "status": run.status,
           "epochs": run.epochs, "baseline": run.is_baseline}
    for m in METRICS:
        s = run.metrics.get(m)
        row[m] = s.last if s else None
        row[f"smoothed_{m}"] = s.smoothed if s else None
        row[f"best_{m}"] = s.best if s else None
        row[f"best_{m}_epoch"] = s.best_epoch if s else None
        row[f"delta_{m}"] = run.delta.get(m)
    row.update(gap=run.gap, onset=run.onset, rise=run.rise, path=str(run.path))
    return row


def sort_runs(runs, key: str) -> list:
    """Best first by `key` (a SORT_KEYS entry); runs without that value go last."""
    if key not in SORT_KEYS:
        raise CompareError(f"cannot sort by {key!r}; sort by one of: {SORT_HELP}.")
    ascending = SORT_KEYS[key]
    have = [r for r in runs if _sortable(r.value(key))]
    missing = [r for r in runs if not _sortable(r.value(key))]
    return sorted(have, key=lambda r: r.value(key), reverse=not ascending) + missing


def _sortable(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def sentence(run: RunSummary, base: RunSummary | None) -> str:
    """One line on a run against the baseline, e.g. 'test accuracy +0.080 over baseline;
    test loss bottoms at epoch 12 then rises 0.900'."""
    if not run.metrics:
        return f"No finished epoch yet ({run.status})."
    parts = []
    if run.is_baseline:
        parts.append("the baseline")
    elif base is not None and "test_acc" in run.delta:
        d = run.delta["test_acc"]
        parts.append(f"test accuracy {d:+.3f} {'over' if d >= 0 else 'under'} {base.label}"
                     + (f" (epoch {run.last_epoch} vs {base.last_epoch})"
                        if run.last_epoch != base.last_epoch else ""))
    if "test_acc" in run.metrics:
        ta = run.metrics["test_acc"]
        parts.append(f"best test accuracy {ta.best:.3f} at epoch {ta.best_epoch}")
    if run.onset is not None:
        parts.append(f"test loss bottoms at epoch {run.onset} then rises {run.rise:.3f}" if run.overfits
                     else f"test loss still falling at epoch {run.onset}")
    if run.gap is not None:
        parts.append(f"train-test accuracy gap {run.gap:+.3f}")
    text = "; ".join(parts)
    if run.status not in ("finished", "unknown"):
        text += f" ({run.status})"
    return text[0].upper() + text[1:] + "."


# --- finding runs on disk -------------------------------------------------------------

def experiments(logdir) -> list[tuple[str, list[Path]]]:
    """(experiment, run folders oldest first) under the log dir, most recently active first."""
    groups: dict[str, list[Path]] = {}
    for run in list_runs(logdir):
        groups.setdefault(run.parent.name, []).append(run)
    return sorted(groups.items(), key=lambda kv: max(_activity(p) for p in kv[1]), reverse=True)


def _activity(run: Path) -> float:
    """When the run last wrote something (metrics.jsonl grows while it trains)."""
    times = []
    for name in (CONFIG, "metrics.jsonl", "status.json"):
        try:
            times.append((run / name).stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def experiment_runs(folder: Path) -> list[Path]:
    """An experiment's runs in its preset's order (when a preset has its name), then oldest first."""
    runs = sorted((p.parent for p in Path(folder).glob(f"*/{CONFIG}")),
                  key=lambda p: (p / CONFIG).stat().st_mtime)
    order = _preset_order(folder.name)
    rank = {name: k for k, name in enumerate(order)}
    return sorted(runs, key=lambda r: rank.get(r.name, len(order)))  # stable: oldest first otherwise


def _preset_order(name: str) -> list[str]:
    from .presets import PresetError, available, load_file

    path = available().get(name)
    if path is None:
        return []
    try:
        return [n for n, _ in load_file(path).runs]
    except PresetError:
        return []


def resolve(targets: list[str], logdir) -> tuple[str, list[Path]]:
    """A title and the run folders for EXPERIMENT names, experiment folders or run folders.

    No target: the most recently active experiment under the log dir.
    """
    logdir = Path(logdir)
    known = experiments(logdir)
    if not targets:
        if not known:
            raise CompareError(f"no runs under {logdir}; run some first (cifar-tui run quick-demo) "
                               "or point --logdir at your runs.")
        name, _ = known[0]
        return name, experiment_runs(logdir / name)
    runs: list[Path] = []
    for target in targets:
        runs += _resolve_one(target, logdir, [n for n, _ in known])
    unique, seen = [], set()
    for p in runs:  # a run named twice counts once, in its first place
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return _title(unique), unique


def _title(runs: list[Path]) -> str:
    """The experiment's name, or the experiments the runs come from."""
    names = list(dict.fromkeys(p.resolve().parent.name for p in runs))
    return names[0] if len(names) == 1 else "runs from " + ", ".join(names)


def _resolve_one(target: str, logdir: Path, known: list[str]) -> list[Path]:
    path = Path(target)
    if (path / CONFIG).is_file():
        return [path]
    if path.is_dir() and any(path.glob(f"*/{CONFIG}")):
        return experiment_runs(path)
    if (logdir / target).is_dir() and any((logdir / target).glob(f"*/{CONFIG}")):
        return experiment_runs(logdir / target)
    where = f"; the experiments there are: {', '.join(known)}" if known else "; it holds no runs yet"
    raise CompareError(f"{target!r} is neither a run folder nor an experiment under {logdir}{where}.")


def load(paths: list[Path]) -> list[RunInfo]:
    return [read_run(p) for p in paths]


def compare_paths(paths: list[Path], weight: float = DEFAULT_WEIGHT) -> Comparison:
    """Read and compare run folders; CompareError when none has a finished epoch."""
    infos = load(paths)
    if not any(i.metrics for i in infos):
        names = ", ".join(p.name for p in paths)
        raise CompareError(f"no finished epoch to compare yet in {names}; "
                           "wait for the first epoch to end (metrics.jsonl is empty).")
    return compare(infos, weight)
