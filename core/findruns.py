"""Finding runs on disk: experiment names, experiment folders and run folders resolved to
the run folders to compare, in the order a reader expects (the preset's, else oldest first),
and what a preset says about comparing them (its equivalence margin).
"""
from __future__ import annotations

from pathlib import Path

from .compare import CompareError
from .records import CONFIG, list_runs, read_meta


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
    return sorted(runs, key=lambda r: rank.get(_group_of(r), len(order)))  # stable: oldest first otherwise


def _group_of(run: Path) -> str:
    """The group a run folder names (its preset run's name), else the folder's name."""
    meta = read_meta(run)[0] or {}
    return meta.get("group") or run.name


def preset_margin(experiments_: list[str]) -> float | None:
    """The equivalence margin (accuracy units) a preset of these experiments names, when they
    are one experiment whose preset has one."""
    from .presets import PresetError, available, load_file

    names = set(experiments_)
    path = available().get(next(iter(names))) if len(names) == 1 else None
    try:
        margin = load_file(path).equivalence if path else None
    except PresetError:
        return None
    return margin / 100 if margin is not None else None


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
