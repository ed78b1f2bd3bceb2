"""A study on disk: `<logdir>/<experiment>/study.json` lists every run and seed planned there,
with its settings, so that "finish the study" and `status` need no guessing.

    {"version": 1, "experiment": "quick-demo", "runs": [
      {"name": "baseline-s4", "group": "baseline", "seed": 4, "folder": "baseline-s4",
       "config": {...RunConfig...}, "by": {"host": ..., "pid": ..., "lock": ".queue-HOST-PID.lock"}}]}

A planned run's config and promised folder are all it takes to start it later bit for bit as
it would have started then. Its state is read from its run folder (core.records), never kept here.

Several processes may plan into one experiment (a console, `run`, `run --parallel`): every
change is a read-merge-write made under an OS lock (flock) on the folder's `.study.lock`, and
written through a temp file renamed over study.json, so a reader sees the old plan or the new
one, never half of one, and no writer drops another's runs. A planner also holds a lock file of
its own (`by.lock`) while its queue may still start runs: a run that never began whose planner
still holds it is `queued` there, not `never started`, and finishing the study leaves it to it.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from .config import FIELDS, ConfigError, make_config
from .job import Job
from .recordio import CONFIG, open_record, read_text
from .records import (RecordError, RunInfo, atomic_write, free_folder, lock_owner, read_run, safe_name)
from .resume import CHANGEABLE, changed_settings, resume_config
from .schema import study_problem

MANIFEST = "study.json"
MUTEX = ".study.lock"   # held while a writer merges into study.json
QUEUE = ".queue-"       # + host-pid.lock: held by a planner while its queue may start runs
VERSION = 1
NEVER, QUEUED = "never started", "queued"

_held: dict[str, object] = {}  # experiment folder -> this process's planner lock (open file)
_added: dict[str, set] = {}    # experiment folder -> folders of the entries this process added
_made: dict[str, list] = {}    # experiment folder -> the folders planning it made (it and its missing parents)


class StudyError(RecordError):
    """A study cannot be read or finished as it is; one sentence, nothing changed (CLI exit 2)."""


@dataclass(frozen=True)
class Planned:
    """One run and seed of the plan, as study.json has it."""
    name: str
    group: str
    seed: int
    folder: str
    config: dict
    by: dict | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "group": self.group, "seed": self.seed, "folder": self.folder,
                "config": self.config, "by": self.by}


# ---- reading and writing study.json ---------------------------------------------------------

def read_plan(exp_dir) -> list[Planned] | None:
    """The planned runs of an experiment folder; None when it has no study.json; StudyError
    (one sentence) when it cannot be read or does not hold a plan."""
    path = Path(exp_dir) / MANIFEST
    try:
        study = json.loads(read_text(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or "it is not valid JSON"
        raise StudyError(f"{path} is damaged ({why}); repair it or remove it (the run folders stay, "
                         "but runs that never started are then forgotten).") from None
    if problem := study_problem(study):
        raise StudyError(f"{path} is damaged ({problem}); repair it or remove it (the run folders stay, "
                         "but runs that never started are then forgotten).")
    return [Planned(e["name"], e["group"], e["seed"], e["folder"],
                    {k: v for k, v in e["config"].items() if k in FIELDS}, e.get("by"))
            for e in study["runs"]]


def _write_plan(exp_dir: Path, plan: list[Planned]) -> None:
    study = {"version": VERSION, "experiment": exp_dir.name, "runs": [p.to_json() for p in plan]}
    atomic_write(exp_dir / MANIFEST, lambda f: f.write(json.dumps(study, indent=1).encode()))


class _Mutex:
    """The experiment's `.study.lock`, held (flock) while a writer reads, merges and writes. A
    writer that withdraws the last plan removes it (and the then empty folder) while holding it,
    so a waiter checks that the file it locked is still the one at the path, else takes the new one."""

    def __init__(self, exp_dir: Path):
        self.path = exp_dir / MUTEX

    def __enter__(self):
        import fcntl

        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = open_record(self.path, os.O_RDWR | os.O_CREAT)
            except OSError as e:
                raise StudyError(f"{self.path} cannot be used as the study's lock ({e.strerror or e}); "
                                 "remove that file, or make the folder writable.") from None
            fcntl.flock(fd, fcntl.LOCK_EX)  # writers merge one at a time; each takes milliseconds
            try:
                if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    self.fd = fd
                    return self
            except FileNotFoundError:
                pass
            os.close(fd)

    def __exit__(self, *exc):
        os.close(self.fd)


def _held_by_someone(path: Path) -> bool:
    """Whether a live process holds the lock file at `path` (a reader: never creates it)."""
    import fcntl

    try:
        fd = open_record(path)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _mine(exp_dir: Path) -> dict:
    """This process as a planner of `exp_dir`: its lock taken (and stale ones of dead planners
    removed) on first use; called under the mutex, so no one removes a lock about to be held."""
    import fcntl

    key = str(exp_dir.resolve())
    name = f"{QUEUE}{safe_name(socket.gethostname(), 'host')}-{os.getpid()}.lock"
    if key not in _held:
        for stale in exp_dir.glob(f"{QUEUE}*.lock"):
            if stale.name != name and not _held_by_someone(stale):
                stale.unlink(missing_ok=True)
        fd = open_record(exp_dir / name, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[key] = fd
    return {"host": socket.gethostname(), "pid": os.getpid(), "lock": name}


def release(exp_dir=None) -> None:
    """This process will start no more planned runs (of `exp_dir`, or of any experiment): its
    planned runs that never began become `never started` for everyone else."""
    for key in [k for k in _held if exp_dir is None or k == str(Path(exp_dir).resolve())]:
        fd = _held.pop(key)
        try:
            os.unlink(Path(key) / f"{QUEUE}{safe_name(socket.gethostname(), 'host')}-{os.getpid()}.lock")
        except OSError:
            pass
        try:
            os.close(fd)
        except OSError:
            pass


def _queued_elsewhere(exp_dir: Path, planned: Planned) -> bool:
    """Another live process planned this run and may still start it."""
    by = planned.by or {}
    lock = by.get("lock")
    if not isinstance(lock, str) or "/" in lock or not lock.startswith(QUEUE):
        return False
    if by.get("pid") == os.getpid() and by.get("host") == socket.gethostname():
        return False  # this process: its caller knows its own queue
    return _held_by_someone(exp_dir / lock)


# ---- planning -----------------------------------------------------------------------------

def plan(logdir, experiment: str, jobs: list[Job]) -> list[Job]:
    """Record `jobs` (about to be queued in `experiment`) in its study.json and return them, each
    with the folder promised to it. A job that is a planned run that never began (same name,
    group, settings; not queued by a live process) takes that entry over, so starting a study
    again fills its gaps; any other gets a new entry and a folder free on disk and in the plan
    (its own `folder` when that one is). StudyError when study.json is damaged or unwritable."""
    exp_dir = Path(logdir) / safe_name(experiment)
    _made.setdefault(str(exp_dir.resolve()), [p for p in (exp_dir, *exp_dir.parents) if not p.exists()])
    try:
        with _Mutex(exp_dir):
            entries = read_plan(exp_dir) or []
            me = _mine(exp_dir)
            now: set[str] = set()  # folders promised in this call
            out = [_place(exp_dir, entries, job, me, now) for job in jobs]
            _write_plan(exp_dir, entries)
    except OSError as e:
        raise StudyError(f"cannot write the study record {exp_dir / MANIFEST} ({e.strerror or e}); "
                         "choose another folder with --logdir.") from None
    return out


def _place(exp_dir: Path, entries: list[Planned], job: Job, me: dict, now: set) -> Job:
    """`job` with its folder, `entries` updated (in place) to plan it."""
    group, config = job.group or job.name, job.config.to_dict()
    for k, e in enumerate(entries):
        if (e.name, e.group, e.config) == (job.name, group, config) and job.folder in (None, e.folder) \
                and e.folder not in now and not (exp_dir / e.folder).exists() and not _queued_elsewhere(exp_dir, e):
            entries[k] = replace(e, by=me)
            now.add(e.folder)
            return replace(job, folder=e.folder)
    taken = {e.folder for e in entries}
    folder = job.folder if job.folder and job.folder not in taken and not (exp_dir / job.folder).exists() \
        else free_folder(exp_dir, job.name, taken)
    entries.append(Planned(job.name, group, job.config.seed, folder, config, me))
    _added.setdefault(str(exp_dir.resolve()), set()).add(folder)
    now.add(folder)
    return replace(job, folder=folder)


def claim(exp_dir, jobs: list[Job]) -> list[Job]:
    """This process is about to start the planned runs of `jobs` (study.finish's); returns those
    it may start, each now planned by it: not the ones another process began or queued since
    finish looked (checked and claimed at once, under the study's lock)."""
    exp_dir, wanted = Path(exp_dir), {job.folder for job in jobs if job.resume_dir is None}
    if not wanted:
        return jobs
    with _Mutex(exp_dir):
        entries, me, mine = read_plan(exp_dir) or [], _mine(exp_dir), set()
        for k, e in enumerate(entries):
            if e.folder in wanted and not (exp_dir / e.folder).exists() and not _queued_elsewhere(exp_dir, e):
                entries[k] = replace(e, by=me)
                mine.add(e.folder)
        _write_plan(exp_dir, entries)
    return [job for job in jobs if job.resume_dir is not None or job.folder in mine]


def withdraw(logdir, experiment: str, jobs: list[Job]) -> None:
    """Take back the plan of `jobs` (study.plan's) when none of them began (e.g. the data could
    not be had): a start that trained nothing leaves nothing behind, not even an empty experiment.
    Runs it took over from an earlier plan stay planned."""
    exp_dir = Path(logdir) / safe_name(experiment)
    if not exp_dir.is_dir() or any((exp_dir / job.folder).exists() for job in jobs):
        return
    added = _added.pop(str(exp_dir.resolve()), set()) & {job.folder for job in jobs}
    with _Mutex(exp_dir):
        entries = [e for e in read_plan(exp_dir) or [] if e.folder not in added]
        if entries:
            _write_plan(exp_dir, entries)
            return
        (exp_dir / MANIFEST).unlink(missing_ok=True)
        release(exp_dir)
        if {p.name for p in exp_dir.iterdir()} == {MUTEX}:
            (exp_dir / MUTEX).unlink()
            for folder in _made.pop(str(exp_dir.resolve()), [exp_dir]):  # the log dir too, if planning made it
                try:
                    folder.rmdir()
                except OSError:  # not empty: someone else's too
                    break


# ---- the state of a study -----------------------------------------------------------------

@dataclass
class Row:
    """One run of a study: planned (with or without a folder yet), or found on disk only."""
    name: str
    group: str
    seed: int | None
    state: str                 # a run folder's status (core.records.read_run), `queued` or `never started`
    epochs: int = 0
    done: int = 0              # epochs on record
    where: str = ""            # a running run's writer, a queued run's planner: "pid N on HOST"
    path: Path | None = None   # its run folder, once it has one
    planned: Planned | None = None
    info: RunInfo | None = None


def is_experiment(folder) -> bool:
    folder = Path(folder)
    return folder.is_dir() and ((folder / MANIFEST).exists() or any(folder.glob(f"*/{CONFIG}")))


def rows(exp_dir) -> tuple[list[Row], bool]:
    """Every run of the study in `exp_dir` (the plan's order, then runs on disk it does not list)
    and whether it has a study.json. StudyError if that is damaged."""
    from .findruns import experiment_runs

    exp_dir = Path(exp_dir)
    plan_ = read_plan(exp_dir)
    infos = {p.name: read_run(p) for p in experiment_runs(exp_dir)}
    found: dict[int, RunInfo] = {}
    for k, p in enumerate(plan_ or []):  # the folder promised to it, when it is that run's
        info = infos.get(p.folder)
        if info is not None and (info.status == "damaged" or (info.name, _seed(info)) == (p.name, p.seed)):
            found[k] = infos.pop(p.folder)
    for k, p in enumerate(plan_ or []):  # else another folder of its name and seed (its own was taken)
        if k not in found:
            twin = next((f for f, i in infos.items() if (i.name, i.group, _seed(i)) == (p.name, p.group, p.seed)), None)
            if twin is not None:
                found[k] = infos.pop(twin)
    out = [_row(exp_dir, p, found.get(k)) for k, p in enumerate(plan_ or [])]
    out += [_row(exp_dir, None, info) for info in infos.values()]
    return out, plan_ is not None


def _seed(info: RunInfo):
    return info.config.get("seed")


def _row(exp_dir: Path, planned: Planned | None, info: RunInfo | None) -> Row:
    if info is None:  # planned, no folder yet
        queued = _queued_elsewhere(exp_dir, planned)
        by = planned.by or {}
        return Row(planned.name, planned.group, planned.seed, QUEUED if queued else NEVER,
                   int(planned.config.get("epochs", 0)), 0,
                   f"pid {by.get('pid')} on {by.get('host')}" if queued else "", None, planned)
    where = ""
    if info.status == "running":
        owner = lock_owner(info.path) or {}
        where = f"pid {owner['pid']} on {owner.get('host', '?')}" if owner else "another process"
    done = info.metrics[-1]["epoch"] if info.metrics else 0
    epochs = info.config.get("epochs", planned.config.get("epochs", 0) if planned else 0)
    return Row(info.name, info.group or info.name, _seed(info), info.status, int(epochs or 0), done, where,
               info.path, planned, info)


def totals(study: list[Row]) -> str:
    """`8 runs: 3 finished, 1 failed, 1 stopped, 3 never started` (in the order the states come)."""
    counts: dict[str, int] = {}
    for r in study:
        counts[r.state] = counts.get(r.state, 0) + 1
    return f"{len(study)} run{'s' * (len(study) != 1)}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


# ---- finishing a study --------------------------------------------------------------------

@dataclass
class Finish:
    """What finishing a study takes: the jobs to queue, and what is left as it is, in words."""
    experiment: str
    jobs: list[Job]
    notes: list[str]
    finished: int
    total: int
    elsewhere: int = 0  # runs another process trains or has queued


def finish(exp_dir, changes: dict | None = None, busy=()) -> Finish:
    """The jobs that finish the study in `exp_dir`: every stopped, failed or interrupted run
    resumed (core.resume's checks, with `changes` as `--set` gives them), every planned run
    that never began started in its promised folder. Finished and diverged runs stay as they are;
    runs that train or are queued in another process are left to it; `busy`: run folders (on
    disk, or promised) that the caller trains or queues already. StudyError (nothing started) when
    a run cannot be resumed as it is: the study could not be finished."""
    exp_dir = Path(exp_dir)
    study, has_plan = rows(exp_dir)
    jobs, notes, elsewhere, diverged = [], [], [], []
    busy = {Path(p).resolve() for p in busy}
    for r in study:
        if r.state == "damaged":
            raise StudyError(r.info.message)
        if (r.path or exp_dir / r.planned.folder).resolve() in busy:
            continue
        if r.state in ("running", QUEUED):
            elsewhere.append(f"{r.path.name if r.path else r.planned.folder} ({r.where})")
        elif r.state == "diverged":
            diverged.append(r.path.name)
        elif r.state in ("stopped", "failed", "interrupted"):
            config, experiment, name = resume_config(r.path, changes)
            jobs.append(Job(name=name, config=config, group=r.group, experiment=experiment, resume_dir=str(r.path)))
        elif r.state == NEVER:
            jobs.append(_fresh(exp_dir, r.planned, changes or {}))
    if not has_plan:
        notes.append(f"{exp_dir} has no {MANIFEST} (it was started before studies were recorded), so runs "
                     "that never started cannot be known; only the runs it has are finished.")
    if elsewhere:
        notes.append(f"left to the process that trains or queues them: {_some(elsewhere)}.")
    if diverged:
        notes.append(f"diverged, left as they are (start a new run with a lower lr): {_some(diverged)}.")
    return Finish(exp_dir.name, jobs, notes, sum(r.state == "finished" for r in study), len(study), len(elsewhere))


def _some(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _fresh(exp_dir: Path, planned: Planned, changes: dict) -> Job:
    """The job that starts a planned run as it was planned (only resume.CHANGEABLE settings changed)."""
    try:
        stored = make_config(planned.config)
        config = stored.replace(**changes)
    except ConfigError as e:
        raise StudyError(f"{exp_dir / MANIFEST} plans {planned.folder} with a setting this machine cannot "
                         f"use ({e}); change it with --set, or start that run anew.") from None
    if refused := changed_settings(stored, config):
        raise ConfigError(f"{refused[0]}: cannot change when finishing a study (its runs would differ from "
                          f"the plan); change only {', '.join(CHANGEABLE)}.")
    return Job(name=planned.name, config=config, group=planned.group, experiment=exp_dir.name,
               folder=planned.folder)


def experiment_dirs(logdir) -> list[Path]:
    """Every experiment folder under the log dir (a study.json or run folders), by name."""
    root = Path(logdir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_experiment(p))
