"""The record of a run: `<logdir>/<experiment>/<run>/` with config.json, metrics.jsonl,
status.json, the TensorBoard event file and checkpoint.pt.

Anything that reads history (the console, compare, resume) reads these files.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TAGS = {
    "train_loss": "Loss_CIFAR10/train",
    "test_loss": "Loss_CIFAR10/test",
    "train_acc": "Accuracy_CIFAR10/train",
    "test_acc": "Accuracy_CIFAR10/test",
    "penalty": "Penalty_CIFAR10/train",
}
from .advice import resume_advice
from .config import FIELDS
from .recordio import (CHECKPOINT, CONFIG, LOCK, METRICS_FILE, PROGRESS, STATUS,  # noqa: F401 (public here)
                       append_file, link_problem, open_record, output_problem, read_text)
from .schema import METRICS, config_problem, owner_problem, row_epoch, status_problem


class RecordError(RuntimeError):
    """The run's record cannot be written or read; the message says what to do."""


class ResumeRefused(RecordError):
    """A run folder cannot be resumed as it is (busy, damaged, or its record and checkpoint
    disagree); nothing in it was changed. The CLI exits 2."""


def safe_name(name: str, default: str = "run") -> str:
    """A name usable as one path component: letters, digits, '.', '_', '+' and '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name.strip()).strip("-.")
    return cleaned or default


def record_file_problem(target, run_dirs=(), logdir=None) -> str | None:
    """Why writing a report to `target` would overwrite a run's record (None if it would not):
    checked by inode against the record files of `run_dirs` and of every run under `logdir`.
    Every writer of an output file (compare --csv/--markdown, reports) asks this first."""
    return output_problem(target, [*run_dirs, *(list_runs(logdir) if logdir is not None else [])])


def default_logdir() -> str:
    return os.environ.get("CIFAR_TUI_LOGDIR", "runs")


def free_folder(parent, run: str, taken=()) -> str:
    """The folder a new run named `run` gets in `parent`: `run`, else `run-2`, `run-3`... the
    first that is neither on disk nor in `taken` (folders promised to runs not started yet).
    `parent` None: `taken` alone decides."""
    base = safe_name(run)
    for n in range(1, 10_000):
        folder = base if n == 1 else f"{base}-{n}"
        if folder not in taken and not (parent is not None and (Path(parent) / folder).exists()):
            return folder
    return f"{base}-{len(taken) + 10_000}"


def new_run_dir(logdir: str, experiment: str, run: str, folder: str | None = None) -> Path:
    """Create a fresh run folder: `folder` (the one a queue promised the run) if it is still
    free, else the first free one of free_folder's, so records never mix."""
    parent = Path(logdir) / safe_name(experiment)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tried: set[str] = set()
        name = safe_name(folder) if folder else free_folder(parent, run)
        while len(tried) < 10_000:
            try:
                (parent / name).mkdir()
                return parent / name
            except FileExistsError:  # taken since: another writer made it first
                tried.add(name)
                name = free_folder(parent, run, tried)
    except OSError as e:
        raise RecordError(f"cannot write runs under {logdir} ({e.strerror or e}); "
                          "choose another folder with --logdir.") from None
    raise RecordError(f"too many runs named {run!r} in {parent}; pick another run name.")


def atomic_write(path: Path, write, sync: bool = True) -> None:
    """Write through a temp file in the same folder, fsync (unless `sync` is false: for
    advisory files that a crash may lose), then rename over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; records are for everyone on the box to read
        with os.fdopen(fd, "wb") as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def read_metrics(run_dir) -> list[dict]:
    """Rows of metrics.jsonl; a torn (half-written) last line is dropped, duplicates keep the last,
    and a malformed line is skipped (read_run says which)."""
    return _parse_metrics(Path(run_dir))[0]


def _parse_metrics(run_dir: Path) -> tuple[list[dict], str, bool]:
    """(the rows, one sentence about the first malformed line or "", whether the last line is
    torn). A last line without its newline is a write cut short by a kill, not damage, while
    the run may still be written (read_run judges it once the run has ended)."""
    path = run_dir / METRICS_FILE
    try:
        text = read_text(path)
    except FileNotFoundError:
        return [], "", False
    except (OSError, ValueError) as e:
        return [], f"{path} cannot be read ({getattr(e, 'strerror', None) or e})", False
    rows: dict[int, dict] = {}
    problem, torn = "", False
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        epoch = row_epoch(row)
        if epoch is None:
            torn = n == len(lines) and not text.endswith("\n")
            if not torn and not problem and line.strip():
                problem = f"line {n} of {path} is damaged (not an epoch record)"
            continue
        rows[epoch] = row
    return [rows[e] for e in sorted(rows)], problem, torn


@dataclass
class RunInfo:
    """What a run folder says about itself."""
    path: Path
    experiment: str
    name: str
    config: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)
    status: str = "unknown"  # finished | stopped | failed | diverged | running | interrupted | damaged
    message: str = ""
    cause: str = ""  # why a failed run failed: data | record | disk | oom | internal
    group: str = ""  # the run it repeats over seeds (config.json "group"); "" in older records


def read_run(run_dir) -> RunInfo:
    """What a run folder says; never raises. A malformed config.json, status.json or metrics line
    makes the status "damaged", with a message naming the file."""
    path = Path(run_dir)
    info = RunInfo(path, path.parent.name, path.name)
    meta, damage = read_meta(path)
    if meta is not None:  # names as a run folder would have them: no markup or escapes reach a terminal
        info.config = {k: v for k, v in meta.get("config", {}).items() if k in FIELDS}  # RunConfig(**) safe
        info.experiment = safe_name(meta.get("experiment", ""), info.experiment)
        info.name = safe_name(meta.get("run", ""), info.name)
        info.group = safe_name(meta.get("group") or "", "")
    info.metrics, bad_line, torn = _parse_metrics(path)
    status, bad_status = read_object(path / STATUS, status_problem)
    damage = link_problem(path) or damage or bad_line or bad_status
    if not damage and status is not None:
        damage = _ended_short(path, status, info.metrics, torn)
    if damage:
        info.status = "damaged"
        info.message = f"{damage}; repair that file, or remove the run folder."
    elif status is not None:
        info.status, info.message = status.get("status", "unknown"), status.get("message", "")
        info.cause = status.get("cause", "")
    elif is_locked(path):  # no status yet: running, or killed before it could write one
        info.status = "running"
    else:
        info.status = "interrupted"
        info.message = resume_advice(f"interrupted after {len(info.metrics)} finished epoch(s)", path).say()
    return info


def _ended_short(path: Path, status: dict, rows: list, torn: bool) -> str:
    """The run has ended (status.json), yet metrics.jsonl lacks epochs it finished (its last
    line torn, or lines lost). "" when they agree: a torn line beyond them is an epoch that
    never finished, which a resume drops."""
    done, last = status.get("epochs_done"), rows[-1]["epoch"] if rows else 0
    if done is None or last >= done:
        return ""
    how = f"the last line of {path / METRICS_FILE} is torn, so it" if torn else f"{path / METRICS_FILE}"
    return f"{how} records {last} epoch(s) but {path / STATUS} says {done} finished"


def read_object(path: Path, check) -> tuple[dict | None, str]:
    """A JSON object file, never through a link: (its dict, "") or (None, "") when missing or
    (None, why) when unusable; `check` (core.schema) says whether its values are."""
    try:
        obj = json.loads(read_text(path))
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as e:
        return None, f"{path} is damaged ({getattr(e, 'strerror', None) or 'not valid JSON'})"
    problem = check(obj)
    if problem:
        return None, f"{path} is damaged ({problem})"
    return obj, ""


def read_meta(run_dir) -> tuple[dict | None, str]:
    """config.json of a run folder: (its dict, ""), (None, "") when there is none, or
    (None, one phrase saying how it is damaged)."""
    return read_object(Path(run_dir) / CONFIG, config_problem)


def write_status(run_dir, status: str, message: str, epochs_done: int, cause: str = "", advice=None) -> None:
    """status.json; `advice` (core.advice.Advice) keeps the message's advice as a value too."""
    extra = {"advice": advice.to_dict()} if advice is not None else {}
    write_json(Path(run_dir) / STATUS, {"status": status, "message": message, "cause": cause,
                                        "epochs_done": epochs_done, "ended": time.time(), **extra})


def probe_writable(folder) -> None:
    """OSError unless a file can be made (and removed) in `folder`, which is made if missing:
    root ignores modes, a read-only mount does not, so try rather than check."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
    os.close(fd)
    os.unlink(probe)


def check_logdir(logdir: str) -> None:
    """Make sure run records can be written under `logdir` before any run starts."""
    try:
        probe_writable(logdir)
    except OSError as e:
        raise RecordError(f"cannot write runs under {logdir} ({e.strerror or e}); "
                          "choose another folder with --logdir.") from None


def list_runs(logdir) -> list[Path]:
    """Every run folder under the log dir (those with a config.json), oldest first."""
    root = Path(logdir)
    if not root.is_dir():
        return []
    runs = [p.parent for p in root.glob(f"*/*/{CONFIG}")]
    return sorted(runs, key=lambda p: (p / CONFIG).stat().st_mtime)


def lock_owner(run_dir) -> dict | None:
    """{"host", "pid", "since"} of the process that last took the run's lock (alive or not:
    is_locked says which), or None for a run written before owners were recorded."""
    try:
        owner = json.loads(read_text(Path(run_dir) / LOCK))
        return None if owner_problem(owner) else owner
    except (OSError, ValueError):
        return None


def is_locked(run_dir) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no way to tell, assume idle
        return False
    try:  # read-only and never created: a reader leaves the folder as it found it
        fd = open_record(Path(run_dir) / LOCK)
    except OSError:  # none (no writer ever), or a link (read_run calls the run damaged)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def take_lock(run_dir):
    """Lock a run folder for writing (an OS lock, gone with the process); ResumeRefused if taken,
    or if a record file is a link (a writer would change the file it points at)."""
    problem = link_problem(run_dir, writer=True)
    try:
        if problem:
            raise OSError(problem)
        f = os.fdopen(open_record(Path(run_dir) / LOCK, os.O_RDWR | os.O_CREAT), "r+")
    except OSError as e:
        why = problem or f"{e.filename} cannot be used as its lock ({e.strerror or e}); remove that file"
        raise ResumeRefused(f"{run_dir} cannot be written: {why}, or start a new run.") from None
    try:
        import fcntl

        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except BlockingIOError:
        f.close()
        raise ResumeRefused(f"{run_dir} is being written by another run right now; "
                            "wait for it to end or start a new run.") from None
    return f


def _name_writer(lock) -> None:
    """Write this process into the held lock file, so a follower can tell who writes the run and
    whether it is alive. Only a writer does: a resume that finds nothing to do leaves it as it was."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
    parent = multiprocessing.parent_process()  # a worker process of a queue (--parallel): whose queue
    if parent is not None and parent.pid:
        owner["queue_pid"] = parent.pid
    lock.truncate(0)
    lock.write(json.dumps(owner))
    lock.flush()


def _event_writer(path: Path, resume_from: int | None):
    """The TensorBoard writer. Every run's event file starts with a SessionLog START at its first
    step: TensorBoard's Python loader (--load_fast=false) ignores a run's first START and purges
    the steps >= the step of each later one, so a resume's START drops an epoch that was logged
    but not checkpointed (the fast loader does the same by preempting on the repeated step).
    A resume writes a second START, for runs recorded before fresh runs wrote one."""
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from torch.utils.tensorboard import SummaryWriter  # heavy import, only when writing

    first = resume_from or 1
    _after_earlier_event_files(path)
    tb = SummaryWriter(str(path), purge_step=first)
    if resume_from is not None:
        tb.file_writer.add_event(Event(step=first, session_log=SessionLog(status=SessionLog.START)))
    return tb


def _after_earlier_event_files(path: Path, most: float = 2.0) -> None:
    """TensorBoard reads a run's event files in name order, and a name starts with its writer's
    start second, then host and pid: a resume started in the same second as the run it carries
    on could sort first and have its epochs dropped. Wait (a second at most, in practice) until
    this second is past every earlier file's; a file stamped far ahead (clock skew) is not waited for."""
    stamps = []
    for f in path.glob("events.out.tfevents.*"):
        try:
            stamps.append(int(f.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    deadline = time.monotonic() + most
    while stamps and int(time.time()) <= max(stamps) and time.monotonic() < deadline:
        time.sleep(0.05)


def checkpoint_bytes(state: dict) -> memoryview:
    """checkpoint.pt's bytes. Serialized in memory first: torch.save writing to a full disk raises
    RuntimeError, while the file's own write raises OSError with the real errno (ENOSPC)."""
    import io

    import torch

    blob = io.BytesIO()
    torch.save(state, blob)
    return blob.getbuffer()


class RunRecord:
    """Writes one run's folder while it trains. Holds an OS lock so two writers never mix."""

    def __init__(self, path: Path, meta: dict | None, resume_from: int | None = None,
                 rows: list | None = None, lock=None):
        """A fresh run writes `meta` to config.json; a resumed one (`resume_from` = its first
        epoch) rewrites it only when given, and keeps `rows` (else the metrics before `resume_from`).
        `lock`: the folder's lock (take_lock), when the caller already holds it."""
        self.path = Path(path)
        self._lock = lock or take_lock(self.path)
        _name_writer(self._lock)
        if meta is not None:
            write_json(self.path / CONFIG, meta)
        self._metrics = self._trimmed_metrics(resume_from, rows)
        self._tb = _event_writer(self.path, resume_from)
        if resume_from is None and meta is not None:  # HParams: the settings, once per run
            from .tbhparams import start_summary

            self._tb.file_writer.add_summary(start_summary(meta, f"{self.path.parent.name}/{self.path.name}"))

    def _trimmed_metrics(self, resume_from: int | None, rows: list | None):
        """Open metrics.jsonl for appending; on resume keep only epochs before `resume_from`
        (so an epoch logged but not checkpointed before a crash is not there twice)."""
        path = self.path / METRICS_FILE
        if resume_from is not None:
            for name in (CONFIG, METRICS_FILE, STATUS, CHECKPOINT):  # temp files of a killed writer
                for stale in self.path.glob(f".{name}.*"):
                    stale.unlink(missing_ok=True)
            keep = [r for r in (read_metrics(self.path) if rows is None else rows) if r["epoch"] < resume_from]
            atomic_write(path, lambda f: f.write("".join(json.dumps(r) + "\n" for r in keep).encode()))
            (self.path / STATUS).unlink(missing_ok=True)
        return append_file(path)

    def log_epoch(self, row: dict) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        os.fsync(self._metrics.fileno())
        for key, tag in TAGS.items():
            if key in row:
                self._tb.add_scalar(tag, row[key], row["epoch"])
        self._tb.flush()

    def save_checkpoint(self, state: dict) -> None:
        self.save_checkpoint_bytes(checkpoint_bytes(state))

    def save_checkpoint_bytes(self, blob) -> None:
        """checkpoint.pt from a checkpoint_bytes blob (one made here, or sent from a Ray task)."""
        atomic_write(self.path / CHECKPOINT, lambda f: f.write(blob))

    def finish(self, status: str, message: str, epochs_done: int, cause: str = "", advice=None) -> None:
        write_status(self.path, status, message, epochs_done, cause, advice)
        if status == "finished":  # HParams: the end, once (a stopped run resumed ends later)
            from .tbhparams import end_summary

            self._tb.file_writer.add_summary(end_summary())
            self._tb.flush()

    def close(self) -> None:
        for close in (self._tb.close, self._metrics.close, self._lock.close):
            try:
                close()
            except OSError:
                pass
