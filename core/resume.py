"""Resuming a run: which runs can be resumed, and the config a resume may use.

A run can be resumed when it was stopped, killed (interrupted) or failed and
nothing is writing it now. A resume may train for more epochs, or carry on on
another device or with the data in another folder; changing anything else
would make its curves a different experiment, so that is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import FIELDS, ConfigError, RunConfig, make_config
from .records import CONFIG, RecordError, RunInfo, list_runs, read_run

RESUMABLE = ("stopped", "interrupted", "failed")
CHANGEABLE = ("epochs", "device", "data_dir")


def load_run_config(run_dir) -> tuple[RunConfig, str, str]:
    """The config, experiment and run name stored in a run folder."""
    path = Path(run_dir) / CONFIG
    try:
        meta = json.loads(path.read_text())
        return make_config(meta["config"]), meta["experiment"], meta["run"]
    except FileNotFoundError:
        raise RecordError(f"{run_dir} is not a run folder (no {CONFIG}); "
                          "give the folder of a run, e.g. runs/quick-demo/baseline.") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RecordError(f"{path} is damaged ({e}); the run cannot be resumed.") from None


def epochs_done(info: RunInfo) -> int:
    return info.metrics[-1]["epoch"] if info.metrics else 0


def resume_problem(info: RunInfo) -> str | None:
    """Why this run cannot be resumed as it is (one sentence), or None if it can."""
    if info.status == "running":
        return f"{info.path} is being written by another run right now; wait for it to end."
    if info.status == "diverged":
        return (f"{info.path} diverged, and resuming it would diverge again; "
                "start a new run with a lower lr instead.")
    if info.status == "finished":
        return (f"{info.path} already finished its {epochs_done(info)} epochs; "
                "resume it with --set epochs=N to train it longer.")
    if info.status not in RESUMABLE:
        return f"{info.path} has status {info.status!r} and cannot be resumed."
    return None


def resumable_runs(logdir) -> list[RunInfo]:
    """The runs under `logdir` that were stopped, killed or failed and can carry on, oldest first."""
    return [info for info in map(read_run, list_runs(logdir)) if resume_problem(info) is None]


def changed_settings(stored: RunConfig, wanted: RunConfig) -> list[str]:
    """Settings that differ and that a resume may not change."""
    return [name for name in FIELDS
            if name not in CHANGEABLE and getattr(stored, name) != getattr(wanted, name)]


def keep_precision(stored: RunConfig, wanted: RunConfig) -> RunConfig:
    """`wanted` with precision "auto" taken as the stored run's: a resume carries on in the
    arithmetic the run began with, whatever the device it carries on on."""
    return wanted.replace(precision=stored.precision) if wanted.precision == "auto" else wanted


def resume_config(run_dir, changes: dict | None = None) -> tuple[RunConfig, str, str]:
    """The (config, experiment, run name) to resume `run_dir` with, after `changes`.

    Raises RecordError when the run cannot be resumed and ConfigError for a change
    that is not allowed. A finished run passes (resuming it does nothing), so that
    re-running the same resume command after it has succeeded is harmless.
    """
    stored, experiment, name = load_run_config(run_dir)
    info = read_run(run_dir)
    if info.status in ("running", "diverged"):
        raise RecordError(resume_problem(info))
    config = keep_precision(stored, stored.replace(**(changes or {})))
    refused = changed_settings(stored, config)
    if refused:
        raise ConfigError(f"{refused[0]}: cannot change when resuming (the curves would mix two "
                          f"experiments); start a new run, or change only {', '.join(CHANGEABLE)}.")
    done = epochs_done(info)
    if config.epochs < done:
        raise ConfigError(f"epochs: {config.epochs} is fewer than the {done} epochs this run has "
                          f"finished; use epochs={done} or more.")
    return config, experiment, name
