"""What each record file must hold: the types and ranges every reader of a run folder relies on.

Each check returns "" for a well-formed record, else a phrase saying what is wrong ("its
'epoch' is 'x', not a whole number"); callers name the file. Readers (core.records, the
Follower, resume, compare, the console) check before they use a value, so a malformed record
becomes one sentence and the run shows `damaged`, never a TypeError.
"""
from __future__ import annotations

import json
import math

from .config import KINDS

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
STATUSES = ("finished", "stopped", "failed", "diverged")  # what a writer puts in status.json
PHASES = ("start", "train", "eval")  # the order of a run's progress samples within one epoch


def _whole(v, low: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v) -> bool:
    return _number(v) and math.isfinite(v)


def _text(v) -> bool:
    return isinstance(v, str)


def _shown(v) -> str:
    """A value as the JSON file has it ('null', '"x"'), cut short."""
    text = json.dumps(v, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _fields(obj: dict, rules: dict, required=()) -> str:
    """The first key of `obj` that is missing (of `required`) or breaks its rule."""
    for key in required:
        if key not in obj:
            return f"it has no {key!r}"
    for key, (ok, what) in rules.items():
        if key in obj and not ok(obj[key]):
            return f"its {key!r} is {_shown(obj[key])}, not {what}"
    return ""


def _object(obj) -> str:
    return "" if isinstance(obj, dict) else f"it holds a JSON {type(obj).__name__}, not an object"


WHOLE = (_whole, "a whole number")
TEXT = (_text, "text")
TIME = (_finite, "a time")


def config_problem(meta) -> str:
    """config.json: {experiment, run, group, config: {settings}, device, train_images, ...}."""
    problem = _object(meta) or _fields(meta, {
        "experiment": TEXT, "run": TEXT, "group": TEXT, "device": TEXT, "torch": TEXT,
        "config": (lambda v: isinstance(v, dict), "a table of settings"),
        "train_images": WHOLE, "test_images": WHOLE, "started": TIME, "resumed": TIME})
    return problem or _settings_problem(meta.get("config", {}))


_SETTING = {int: (_whole, "a whole number"), float: (_finite, "a finite number"),
            bool: (lambda v: isinstance(v, bool), "true or false"), str: TEXT}


def _settings_problem(config: dict) -> str:
    rules = {name: _SETTING[kind] for name, kind in KINDS.items()}
    rules["reg_strength"] = (lambda v: v is None or _finite(v), "a number or null")
    rules["epochs"] = (lambda v: _whole(v, 1), "a whole number of 1 or more")
    rules["batch_size"] = (lambda v: _whole(v, 1), "a whole number of 1 or more")
    problem = _fields(config, rules)
    return problem.replace("its ", "its setting ", 1) if problem else ""


def status_problem(status) -> str:
    """status.json: {status, message, cause, epochs_done, ended}."""
    return _object(status) or _fields(status, {
        "status": (lambda v: v in STATUSES, "one of " + ", ".join(STATUSES)), "message": TEXT, "cause": TEXT,
        "epochs_done": WHOLE, "ended": TIME})


def progress_problem(sample) -> str:
    """progress.json: {epoch, batch, batches, phase, train_loss, ...}."""
    problem = _object(sample) or _fields(sample, {
        "phase": (lambda v: v in PHASES, "one of " + ", ".join(PHASES)),
        "epoch": (lambda v: _whole(v, 1), "a whole number of 1 or more"), "batch": WHOLE,
        "batches": (lambda v: _whole(v, 1), "a whole number of 1 or more"),
        "train_loss": (lambda v: v is None or _number(v), "a number or null"),
        "device": TEXT, "first_epoch": (lambda v: _whole(v, 1), "a whole number of 1 or more"),
        "epochs": WHOLE, "time": TIME}, required=("epoch", "batch", "batches", "phase"))
    if not problem and sample["batch"] > sample["batches"]:
        problem = f"its batch {sample['batch']} is beyond its {sample['batches']} batches"
    return problem


def owner_problem(owner) -> str:
    """.lock: {host, pid, since[, queue_pid]}; a pid of 0 or 1 (or below) would signal whole process groups."""
    pid = (lambda v: _whole(v, 2), "a process id")
    return _object(owner) or _fields(owner, {"pid": pid, "host": TEXT, "since": TIME, "queue_pid": pid},
                                     required=("pid",))


def row_epoch(row) -> int | None:
    """The epoch of a well-formed metrics.jsonl row (whole epoch >= 1, numeric metrics), else None."""
    if not isinstance(row, dict):
        return None
    epoch = row.get("epoch")
    if not (_finite(epoch) and epoch == int(epoch) and 1 <= epoch <= 10**9):
        return None
    if any(not _number(row[m]) for m in METRICS if m in row):
        return None
    row["epoch"] = int(epoch)
    return int(epoch)


def _plan_problem(entry) -> str:
    """One planned run of study.json: {name, group, seed, folder, config, by}."""
    problem = _object(entry) or _fields(entry, {
        "name": TEXT, "group": TEXT, "seed": WHOLE,
        "folder": (lambda v: _text(v) and v not in ("", ".", "..") and "/" not in v and "\\" not in v,
                   "a folder name"),
        "config": (lambda v: isinstance(v, dict), "a table of settings"),
        "by": (lambda v: v is None or isinstance(v, dict), "an object or null")},
        required=("name", "group", "seed", "folder", "config"))
    return problem or _settings_problem(entry["config"])


def study_problem(study) -> str:
    """study.json: {version, experiment, runs: [planned run, ...]}."""
    problem = _object(study) or _fields(study, {
        "version": WHOLE, "experiment": TEXT, "runs": (lambda v: isinstance(v, list), "a list of runs")},
        required=("runs",))
    if problem:
        return problem
    for n, entry in enumerate(study["runs"], 1):
        if problem := _plan_problem(entry):
            return (f"its run {n}'s {problem[4:]}" if problem.startswith("its ") else
                    f"its run {n} {problem[3:]}" if problem.startswith("it has ") else f"its run {n}: {problem}")
    return ""
