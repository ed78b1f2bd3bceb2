"""Resuming a run: which runs can be resumed, and the config a resume may use.

A run can be resumed when it was stopped, killed (interrupted) or failed and
nothing is writing it now. A resume may train for more epochs, or carry on on
another device or with the data in another folder; changing anything else
would make its curves a different experiment, so that is refused.
"""
from __future__ import annotations

import re
from pathlib import Path

from .advice import COMMAND, Advice
from .config import FIELDS, ConfigError, RunConfig, make_config
from .records import (CHECKPOINT, CONFIG, ResumeRefused, RunInfo, link_problem, list_runs, read_meta,
                      read_run)

RESUMABLE = ("stopped", "interrupted", "failed")
CHANGEABLE = ("epochs", "device", "data_dir")


def load_run_config(run_dir) -> tuple[RunConfig, str, str]:
    """The config, experiment and run name stored in a run folder; ResumeRefused if it has none."""
    meta, problem = read_meta(run_dir)
    if problem:
        raise ResumeRefused(f"{problem}; the run cannot be resumed.")
    if meta is None:
        raise ResumeRefused(f"{run_dir} is not a run folder (no {CONFIG}); "
                            "give the folder of a run, e.g. runs/quick-demo/baseline.")
    path = Path(run_dir) / CONFIG
    try:
        return make_config(meta["config"]), str(meta["experiment"]), str(meta["run"])
    except KeyError as e:
        raise ResumeRefused(f"{path} is damaged (no {e.args[0]!r}); the run cannot be resumed.") from None
    except ConfigError as e:
        raise ResumeRefused(f"{path} holds a setting this machine cannot use ({e}); the run cannot "
                            "be resumed here.") from None


def load_checkpoint(run_dir) -> dict | None:
    """checkpoint.pt of a run folder, or None if there is none; ResumeRefused if it cannot be read."""
    import torch

    path = Path(run_dir) / CHECKPOINT
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        return None
    except Exception as e:  # torch raises many kinds for a damaged file
        raise ResumeRefused(f"{path} cannot be read ({_gist(e)}); "
                            "start the run again instead of resuming.") from None
    if not (isinstance(state, dict) and isinstance(state.get("epoch"), int)
            and isinstance(state.get("metrics"), list)):
        raise ResumeRefused(f"{path} is not a checkpoint of this program; "
                            "start the run again instead of resuming.")
    return state


def _gist(e: Exception, limit: int = 120) -> str:
    """The whole sentences of an error's first line that fit in `limit` characters; a longer
    first sentence is cut at a word, with an ellipsis."""
    line = (str(e).strip().splitlines() or [type(e).__name__])[0].strip()
    out = ""
    for sentence in re.split(r"(?<=\.)\s+", line):
        if len(out) + len(sentence) > limit:
            break
        out = f"{out} {sentence}".strip()
    if not out:
        out = line[:limit].rsplit(" ", 1)[0] + "…"
    return out.rstrip(".")


def first_epoch(run_dir, state: dict | None) -> int:
    """The epoch a resume from `state` starts at; ResumeRefused when that would remove a recorded
    epoch that no checkpoint backs. The one legitimate gap is the epoch logged in metrics.jsonl
    whose checkpoint was never written (killed, or the disk filled): it is dropped and redone."""
    info = read_run(run_dir)
    if info.status == "damaged":
        raise ResumeRefused(info.message)
    done = state["epoch"] if state else 0
    beyond = [row["epoch"] for row in info.metrics if row["epoch"] > done]
    if beyond and (beyond != [done + 1] or info.status == "finished"):  # a finished run saved them all
        has = f"checkpoint.pt holds epoch {done}" if state else "checkpoint.pt is missing"
        raise ResumeRefused(
            f"{run_dir} records epochs up to {beyond[-1]} in metrics.jsonl but its {has}, so resuming "
            "would lose recorded epochs; put the run's own checkpoint.pt back, or start a new run.")
    return done + 1


def epochs_done(info: RunInfo) -> int:
    return info.metrics[-1]["epoch"] if info.metrics else 0


def resume_problem(info: RunInfo, words: dict = COMMAND) -> str | None:
    """Why this run cannot be resumed as it is (one sentence, its advice worded by `words`:
    core.advice), or None if it can."""
    if info.status == "damaged":
        return info.message
    if info.status == "running":
        return f"{info.path} is being written by another run right now; wait for it to end."
    if info.status == "diverged":
        return (f"{info.path} diverged, and resuming it would diverge again; "
                "start a new run with a lower lr instead.")
    if info.status == "finished":
        return Advice("longer", f"{info.path} already finished its {epochs_done(info)} epochs", str(info.path)).say(words)
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

    Raises ResumeRefused when the run cannot be resumed as it is (busy, diverged, damaged,
    an unreadable checkpoint, or a checkpoint that does not back its recorded epochs) and
    ConfigError for a change that is not allowed; either way nothing is written. A finished
    run passes (resuming it does nothing), so that re-running the same resume command after
    it has succeeded is harmless.
    """
    if problem := link_problem(run_dir, writer=True):  # resuming would write through it
        raise ResumeRefused(f"{run_dir} cannot be written: {problem}, or start a new run.")
    stored, experiment, name = load_run_config(run_dir)
    info = read_run(run_dir)
    if info.status in ("running", "diverged", "damaged"):
        raise ResumeRefused(resume_problem(info))
    config = keep_precision(stored, stored.replace(**(changes or {})))
    refused = changed_settings(stored, config)
    if refused:
        raise ConfigError(f"{refused[0]}: cannot change when resuming (the curves would mix two "
                          f"experiments); start a new run, or change only {', '.join(CHANGEABLE)}.")
    done = first_epoch(run_dir, load_checkpoint(run_dir)) - 1
    if config.epochs < done:
        raise ConfigError(f"epochs: {config.epochs} is fewer than the {done} epochs this run has "
                          f"finished; use epochs={done} or more.")
    return config, experiment, name
