"""One training run: data on the device, per-image augmentation in batch, one host sync per epoch.

`train(config, on_event, stop)` is the only entry point. It never raises for
anything a user can cause: it ends with a RunEnded event (and returns it)
whose status is finished, stopped, failed or diverged and whose message says
what to do. Finished epochs are on disk before their EpochDone event is sent.
"""
from __future__ import annotations

import errno
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import augment, data as data_mod
from .config import RunConfig
from .events import BatchProgress, EpochDone, RunEnded, RunStarted
from .model import build_model, build_optimizer, penalty
from .precision import resolve_precision
from .progress import ProgressWriter
from .records import (LOCK, RecordError, ResumeRefused, RunRecord, atomic_write, default_logdir, new_run_dir,
                      probe_writable,
                      read_meta, read_run, take_lock, write_status)
from .resume import (changed_settings, first_epoch, keep_precision, load_checkpoint,  # noqa: F401
                     load_run_config)  # (load_run_config: public here too)

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.247, 0.243, 0.261)
EVAL_BATCH = 1000
PROGRESS_EVERY_S = 0.1  # batch progress events at most this often


class Stopped(Exception):
    """The stop flag was seen."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


@dataclass
class _Run:
    """Everything one run holds on the device."""
    config: RunConfig
    device: torch.device
    model: torch.nn.Module
    step_model: torch.nn.Module  # the compiled model when compile=True, else `model`
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    channels_last: bool


def _prepare(config: RunConfig, dataset: data_mod.Dataset, device: torch.device) -> _Run:
    config = resolve_precision(config, device)  # no-op for a run that train() resolved already
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # channels_last makes this CNN's convolutions markedly faster on CPU
    channels_last = device.type in ("cpu", "cuda")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(config).to(device, memory_format=fmt)
    step_model = torch.compile(model) if config.compile else model
    gen = torch.Generator(device=device).manual_seed(config.seed)
    pin = device.type == "cuda"

    def put(t):  # data from core.data.SharedData may be on the device already: kept, not copied
        return (t.pin_memory() if pin and t.device.type == "cpu" else t).to(device, non_blocking=pin)

    return _Run(config, device, model, step_model, build_optimizer(config, model.parameters()), gen,
                put(dataset.train_x), put(dataset.train_y), put(dataset.test_x), put(dataset.test_y),
                torch.tensor(MEAN, device=device).view(1, 3, 1, 1),
                torch.tensor(STD, device=device).view(1, 3, 1, 1), channels_last)


def _to_input(r: _Run, images: torch.Tensor) -> torch.Tensor:
    """uint8 batch -> float input, the same arithmetic as ToTensor then Normalize.

    The layout change happens on the uint8 batch (a quarter of the bytes) and
    .float() keeps it, so the float input is written once."""
    if r.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    x = images.float().div_(255)
    if r.config.normalize:
        x = x.sub_(r.mean).div_(r.std)
    return x


def _autocast(r: _Run):
    return torch.autocast(r.device.type, dtype=torch.bfloat16, enabled=r.config.precision == "bf16")


def _step(r: _Run, x: torch.Tensor, labels: torch.Tensor):
    """Forward, backward and optimizer step on a ready input; (cross-entropy, logits, penalty or None)."""
    cfg = r.config
    with _autocast(r):
        logits = r.step_model(x)
        ce = F.cross_entropy(logits.float(), labels)
    pen = penalty(r.model, cfg.regularizer, cfg.strength)
    loss = ce if pen is None else ce + pen
    r.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    r.optimizer.step()
    return ce, logits, pen


def _train_epoch(r: _Run, epoch: int, emit, stop: threading.Event, name: str, live_loss: bool = False) -> dict:
    """One pass over the training set; the sums stay on the device (no host sync per batch).

    With `live_loss` each progress event (at most every PROGRESS_EVERY_S) carries the epoch's
    running mean loss: one host sync per event."""
    cfg, dev = r.config, r.device
    n = len(r.train_y)
    batches = math.ceil(n / cfg.batch_size)
    perm = torch.randperm(n, generator=r.generator, device=dev)
    loss_sum = torch.zeros((), device=dev)
    pen_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    r.model.train()
    last = time.monotonic()
    for b in range(batches):
        if stop.is_set():
            raise Stopped
        idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
        images, labels = r.train_x[idx], r.train_y[idx]
        if cfg.augment:
            images = augment.augment(images, r.generator)
        ce, logits, pen = _step(r, _to_input(r, images), labels)
        loss_sum += ce.detach() * len(labels)
        correct += (logits.argmax(1) == labels).sum()
        if pen is not None:
            pen_sum += pen.detach()
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S or b + 1 == batches:
            last = now  # one host sync per progress sample (at most ~10 a second), none per batch
            running = loss_sum.item() / min((b + 1) * cfg.batch_size, n) if live_loss else None
            emit(BatchProgress(name, epoch, b + 1, batches, running))
    sums = {"train_loss": (loss_sum, n), "train_acc": (correct, n)}
    if cfg.regularizer in ("l1", "l2"):
        sums["penalty"] = (pen_sum, batches)
    return sums


def _eval_logits(r: _Run, x: torch.Tensor) -> torch.Tensor:
    with _autocast(r):
        return r.model(x).float()


@torch.inference_mode()
def _evaluate(r: _Run) -> dict:
    r.model.eval()
    n = len(r.test_y)
    loss_sum = torch.zeros((), device=r.device)
    correct = torch.zeros((), device=r.device, dtype=torch.long)
    for i in range(0, n, EVAL_BATCH):
        labels = r.test_y[i:i + EVAL_BATCH]
        logits = _eval_logits(r, _to_input(r, r.test_x[i:i + EVAL_BATCH]))
        loss_sum += F.cross_entropy(logits, labels, reduction="sum")
        correct += (logits.argmax(1) == labels).sum()
    return {"test_loss": (loss_sum, n), "test_acc": (correct, n)}


def _rng_state(r: _Run) -> dict:
    state = {"torch": torch.get_rng_state(), "data": r.generator.get_state()}
    if r.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(r.device)
    return state


def _set_rng_state(r: _Run, state: dict) -> None:
    torch.set_rng_state(state["torch"])
    r.generator.set_state(state["data"])
    if "cuda" in state and r.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], r.device)


def _checkpoint(r: _Run, epoch: int, rows: list) -> dict:
    return {"epoch": epoch, "model": r.model.state_dict(), "optimizer": r.optimizer.state_dict(),
            "rng": _rng_state(r), "metrics": rows, "config": r.config.to_dict()}


def _apply_checkpoint(r: _Run, state: dict) -> None:
    r.model.load_state_dict(state["model"])
    r.optimizer.load_state_dict(state["optimizer"])
    _set_rng_state(r, state["rng"])


def train(config: RunConfig, on_event=None, stop: threading.Event | None = None, *,
          logdir: str | None = None, experiment: str = "custom", run: str = "run",
          dataset: data_mod.Dataset | None = None, data_url: str | None = None,
          data_md5: str | None = None, resume_dir=None, group: str | None = None,
          data: data_mod.SharedData | None = None, folder: str | None = None) -> RunEnded:
    """Train one run and record it. Returns (and emits) the RunEnded event.

    With `resume_dir` it carries on from that run folder's checkpoint; `config` may
    differ from the stored one only in resume.CHANGEABLE (e.g. more epochs). `group` (default:
    the run's name) is recorded in config.json: the seeds of one run share it. `data` shares
    the data set, and its copy on the device, with the other runs of a queue. `folder`: the run
    folder a queue promised the run (records.new_run_dir: another name if it was taken since).
    """
    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    record, done, run_dir, r, lock = None, 0, "", None, None
    try:
        device = resolve_device(config.device)
        if resume_dir is not None:  # check the run folder before a possibly long data load
            path = Path(resume_dir)
            run_dir = str(path)
            lock = _lock_to_resume(path)  # held from the checks on: no other run writes the folder meanwhile
            config = keep_precision(load_run_config(path)[0], config)  # "auto" goes on as the run began
            state, first, changed_meta = _resume_state(path, config)
            done = first - 1
            if first > config.epochs:
                return _already_finished(emit, path, run, first - 1)
        config = resolve_precision(config, device)  # once per run; config.json records the result
        if dataset is None:
            dataset = (data or data_mod.SharedData(data_url, data_md5)).load(config, device)
        else:
            dataset = dataset.head(config.train_fraction)
        if stop.is_set():  # stopped while the data loaded: leave no empty run folder behind
            raise Stopped
        if resume_dir is not None:
            rows = state["metrics"] if state else []
            record = RunRecord(path, changed_meta, resume_from=first, rows=rows, lock=lock)
        else:
            meta = {"experiment": experiment, "run": run, "group": group or run, "config": config.to_dict(),
                    "device": str(device), "started": time.time(), "torch": torch.__version__, **_versions(),
                    "train_images": len(dataset.train_y), "test_images": len(dataset.test_y)}
            path = new_run_dir(logdir or default_logdir(), experiment, run, folder)
            run_dir = str(path)
            state, first, rows = None, 1, []
            record = RunRecord(path, meta)
        emit = ProgressWriter(path, emit)  # progress.json: followers of the folder see the epoch advance
        r = _prepare(config, dataset, device)
        if state:
            _apply_checkpoint(r, state)
        emit(RunStarted(run, experiment, run_dir, config.epochs,
                        math.ceil(len(dataset.train_y) / config.batch_size), str(device), first,
                        config.precision))
        for epoch in range(first, config.epochs + 1):
            t0 = time.perf_counter()
            stats = _train_epoch(r, epoch, emit, stop, run, live_loss=True)
            batches = math.ceil(len(r.train_y) / config.batch_size)
            emit(BatchProgress(run, epoch, batches, batches, phase="eval"))
            stats.update(_evaluate(r))
            totals = torch.stack([s.float() for s, _ in stats.values()]).tolist()  # the one sync
            values = [total / count for total, (_, count) in zip(totals, stats.values())]
            row = {"epoch": epoch, **dict(zip(stats, values)),
                   "seconds": time.perf_counter() - t0, "time": time.time()}
            if not all(math.isfinite(v) for v in values):
                return _end(emit, record, run, "diverged", done, run_dir,
                            f"diverged at epoch {epoch}: the loss became NaN or infinite; "
                            "lower the learning rate (lr).")
            record.log_epoch(row)
            rows.append(row)
            record.save_checkpoint(_checkpoint(r, epoch, rows))
            done = epoch
            emit(EpochDone(run, epoch, config.epochs, row))
        return _end(emit, record, run, "finished", done, run_dir, f"finished {done} epoch{'s' * (done != 1)}.")
    except (Stopped, KeyboardInterrupt):  # KeyboardInterrupt: a second Ctrl-C abandons the epoch
        return _end(emit, record, run, "stopped", done, run_dir,
                    f"stopped after {done} finished epoch(s); resume with cifar-tui run --resume {run_dir}."
                    if run_dir else "stopped before the run began; nothing was recorded.")
    except data_mod.DataError as e:
        return _end(emit, record, run, "failed", done, run_dir, str(e), cause="data")
    except RecordError as e:  # refused: a resume target that is busy, damaged or inconsistent; nothing changed
        return _end(emit, record, run, "failed", done, run_dir, str(e),
                    cause="refused" if isinstance(e, ResumeRefused) else "record")
    except OSError as e:
        return _end(emit, record, run, "failed", done, run_dir, *_io_problem(e, config, run_dir, record))
    except Exception as e:
        if full := _disk_full(e):  # e.g. torch's RuntimeError over the ENOSPC of its own write
            return _end(emit, record, run, "failed", done, run_dir, *_io_problem(full, config, run_dir, record))
        if not _out_of_memory(e):  # a bug, not a user error: keep the details in the run folder
            _write_crash(run_dir)
            return _end(emit, record, run, "failed", done, run_dir, f"internal error: {type(e).__name__}: {e}"
                        + (f" (details in {run_dir}/error.log)" if run_dir else ""), cause="internal")
    finally:
        if record is None and lock is not None:  # a record closes its lock itself, after its status
            lock.close()
    # Out of GPU memory. Only now, with the exception and its traceback gone, can the
    # run's tensors be freed, so the next run (or the app) gets the memory back.
    del r
    _free_device_memory()
    return _end(emit, record, run, "failed", done, run_dir,
                f"the GPU ran out of memory at batch_size {config.batch_size}; "
                "try a smaller batch_size or close other GPU jobs.", cause="oom")


def _resume_state(path: Path, config: RunConfig) -> tuple[dict | None, int, dict | None]:
    """The checkpoint of the run at `path` (None before its first epoch ended), the epoch to
    start at, and the config.json to write if `config` changes it (None if unchanged).
    ResumeRefused, with nothing written, when the run cannot carry on as asked."""
    stored, _, _ = load_run_config(path)
    refused = changed_settings(stored, config)
    if refused:
        raise ResumeRefused(f"{refused[0]} cannot change when resuming {path}; start a new run instead.")
    state = load_checkpoint(path)
    first = first_epoch(path, state)
    if config.epochs < first - 1:
        raise ResumeRefused(f"{path} has {first - 1} finished epochs, more than epochs={config.epochs}; "
                            f"resume with epochs={first - 1} or more.")
    if config == stored:
        return state, first, None
    meta = read_meta(path)[0]  # checked by load_run_config above
    return state, first, {**meta, "config": config.to_dict(), "resumed": time.time()}


def _lock_to_resume(path: Path):
    """The lock of a run folder to resume, once the folder is known to be writable; ResumeRefused
    (nothing changed) when it is not: a resume target that cannot be used, not a full disk."""
    try:
        lock = take_lock(path)
    except IsADirectoryError:
        raise ResumeRefused(f"{path / LOCK} is a folder, not the run's lock file; remove it (rmdir), "
                            f"then resume again.") from None
    except OSError as e:
        raise ResumeRefused(f"{path} cannot be written ({e.strerror or e}); make it writable, then resume again.") from None
    try:
        probe_writable(path)
    except OSError as e:
        lock.close()
        raise ResumeRefused(f"{path} cannot be written ({e.strerror or e}); make it writable, then resume again.") from None
    return lock


def _already_finished(emit, path: Path, run: str, done: int) -> RunEnded:
    """Resuming a run that has all its epochs: nothing to train; make its status say so."""
    message = f"already finished all {done} epochs; nothing to do (add epochs with --set epochs=N)."
    if read_run(path).status != "finished":  # killed after its last checkpoint
        write_status(path, "finished", f"finished {done} epoch{'s' * (done != 1)}.", done)
    event = RunEnded(run, "finished", message, done, str(path))
    emit(event)
    return event


def _io_problem(e: OSError, config: RunConfig, run_dir: str, record) -> tuple[str, str]:
    """(message, cause) for an OSError from the data folder or the run's record."""
    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    why = "the disk is full" if full else (e.strerror or str(e))
    fix = "free some space" if full else "make the folder writable"
    in_data = isinstance(e.filename, str) and Path(os.path.abspath(e.filename)).is_relative_to(
        os.path.abspath(config.data_dir))
    if in_data:
        return (f"cannot use the data folder {config.data_dir} ({why}); {fix}, "
                "or choose another folder with --data-dir.", "data")
    then = f"then resume with cifar-tui run --resume {run_dir}" if record else "or choose another --logdir"
    return f"could not write the run's record ({why}); {fix}, {then}.", "disk"


def _disk_full(e: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError behind `e` (as its cause or context), if there is one."""
    for _ in range(5):
        e = e.__cause__ or e.__context__
        if e is None:
            return None
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return e
    return None


def _out_of_memory(e: Exception) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e))  # MPS says it this way


def _versions() -> dict:
    """torchvision's and cifar-tui's versions, for the report's environment."""
    from importlib import metadata

    import torchvision

    try:
        ours = metadata.version("cifar-tui")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        ours = "unknown"
    return {"torchvision": torchvision.__version__, "cifar_tui": ours}


def _end(emit, record, run, status, done, run_dir, message, cause="") -> RunEnded:
    if record is not None:
        try:
            record.finish(status, message, done, cause)
        except OSError:
            pass
        record.close()
    event = RunEnded(run, status, message, done, run_dir, cause)
    emit(event)
    return event


def _write_crash(run_dir: str) -> None:
    if not run_dir:
        return
    try:
        text = traceback.format_exc().encode()
        atomic_write(Path(run_dir, "error.log"), lambda f: f.write(text), sync=False)  # a new file: never through a link
    except OSError:
        pass


def _free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        torch.mps.empty_cache()
