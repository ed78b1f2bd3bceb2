"""The record of a run: `<logdir>/<experiment>/<run>/` with config.json, metrics.jsonl,
status.json, the TensorBoard event file and checkpoint.pt.

Anything that reads history (the console, compare, resume) reads these files.
"""
from __future__ import annotations

import json
import os
import re
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
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
CONFIG, METRICS_FILE, STATUS, CHECKPOINT, LOCK = (
    "config.json", "metrics.jsonl", "status.json", "checkpoint.pt", ".lock")


class RecordError(RuntimeError):
    """The run's record cannot be written or read; the message says what to do."""


def safe_name(name: str) -> str:
    """A name usable as one path component: letters, digits, '.', '_', '+' and '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name.strip()).strip("-.")
    return cleaned or "run"


def default_logdir() -> str:
    return os.environ.get("CIFAR_TUI_LOGDIR", "runs")


def new_run_dir(logdir: str, experiment: str, run: str) -> Path:
    """Create a fresh run folder; a taken name gets a suffix (-2, -3...) so records never mix."""
    parent = Path(logdir) / safe_name(experiment)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        base = safe_name(run)
        for n in range(1, 10_000):
            path = parent / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as e:
        raise RecordError(f"cannot write runs under {logdir} ({e.strerror or e}); "
                          "choose another folder with --logdir.") from None
    raise RecordError(f"too many runs named {run!r} in {parent}; pick another run name.")


def atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; records are for everyone on the box to read
        with os.fdopen(fd, "wb") as f:
            write(f)
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
    """Rows of metrics.jsonl; a torn (half-written) last line is dropped, duplicates keep the last."""
    path = Path(run_dir) / METRICS_FILE
    rows: dict[int, dict] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            row = json.loads(line)
            rows[int(row["epoch"])] = row
        except (ValueError, KeyError, TypeError):
            continue
    return [rows[e] for e in sorted(rows)]


@dataclass
class RunInfo:
    """What a run folder says about itself."""
    path: Path
    experiment: str
    name: str
    config: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)
    status: str = "unknown"  # finished | stopped | failed | diverged | running | interrupted
    message: str = ""
    cause: str = ""  # why a failed run failed: data | record | disk | oom | internal
    group: str = ""  # the run it repeats over seeds (config.json "group"); "" in older records


def read_run(run_dir) -> RunInfo:
    path = Path(run_dir)
    info = RunInfo(path, path.parent.name, path.name)
    try:
        meta = json.loads((path / CONFIG).read_text())
        info.config = meta.get("config", {})
        info.experiment = meta.get("experiment", info.experiment)
        info.name = meta.get("run", info.name)
        info.group = str(meta.get("group") or "")
    except (OSError, ValueError):
        pass
    info.metrics = read_metrics(path)
    try:
        status = json.loads((path / STATUS).read_text())
        info.status, info.message = status.get("status", "unknown"), status.get("message", "")
        info.cause = status.get("cause", "")
    except (OSError, ValueError):  # no status yet: running, or killed before it could write one
        if is_locked(path):
            info.status = "running"
        else:
            info.status = "interrupted"
            info.message = (f"interrupted after {len(info.metrics)} finished epoch(s); "
                            f"resume with cifar-tui run --resume {path}.")
    return info


def write_status(run_dir, status: str, message: str, epochs_done: int, cause: str = "") -> None:
    write_json(Path(run_dir) / STATUS, {"status": status, "message": message, "cause": cause,
                                        "epochs_done": epochs_done, "ended": time.time()})


def check_logdir(logdir: str) -> None:
    """Make sure run records can be written under `logdir` before any run starts."""
    try:
        Path(logdir).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=logdir)
        os.close(fd)
        os.unlink(probe)
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


def is_locked(run_dir) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no way to tell, assume idle
        return False
    try:
        with open(Path(run_dir) / LOCK, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


class RunRecord:
    """Writes one run's folder while it trains. Holds an OS lock so two writers never mix."""

    def __init__(self, path: Path, meta: dict | None, resume_from: int | None = None,
                 rows: list | None = None):
        """A fresh run writes `meta` to config.json; a resumed one (`resume_from` = its first
        epoch) rewrites it only when given, and keeps `rows` (else the metrics before `resume_from`)."""
        self.path = Path(path)
        self._lock = self._take_lock()
        if meta is not None:
            write_json(self.path / CONFIG, meta)
        self._metrics = self._trimmed_metrics(resume_from, rows)
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when writing

        self._tb = SummaryWriter(str(self.path), purge_step=resume_from)

    def _take_lock(self):
        f = open(self.path / LOCK, "a")
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:
            pass
        except BlockingIOError:
            f.close()
            raise RecordError(f"{self.path} is being written by another run right now; "
                              "wait for it to end or start a new run.") from None
        return f

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
        return open(path, "a")

    def log_epoch(self, row: dict) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        os.fsync(self._metrics.fileno())
        for key, tag in TAGS.items():
            if key in row:
                self._tb.add_scalar(tag, row[key], row["epoch"])
        self._tb.flush()

    def save_checkpoint(self, state: dict) -> None:
        import torch

        atomic_write(self.path / CHECKPOINT, lambda f: torch.save(state, f))

    def finish(self, status: str, message: str, epochs_done: int, cause: str = "") -> None:
        write_status(self.path, status, message, epochs_done, cause)

    def close(self) -> None:
        for close in (self._tb.close, self._metrics.close, self._lock.close):
            try:
                close()
            except OSError:
                pass
