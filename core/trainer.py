"""The training loop: data on the device, per-image augmentation in batch, one host sync per epoch.

`prepare` puts a run on the device, `run_epoch` trains and evaluates one epoch
(its one host sync), `checkpoint`/`apply_checkpoint` save and restore it. The
run's lifecycle around the loop (its folder, record, resume checks and how it
ends) is core.lifecycle's `train`; core.bench times these same pieces.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import augment, data as data_mod
from .config import RunConfig
from .events import BatchProgress
from .model import build_model, build_optimizer, penalty
from .precision import resolve_precision

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
class Run:
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


def prepare(config: RunConfig, dataset: data_mod.Dataset, device: torch.device) -> Run:
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

    return Run(config, device, model, step_model, build_optimizer(config, model.parameters()), gen,
                put(dataset.train_x), put(dataset.train_y), put(dataset.test_x), put(dataset.test_y),
                torch.tensor(MEAN, device=device).view(1, 3, 1, 1),
                torch.tensor(STD, device=device).view(1, 3, 1, 1), channels_last)


def to_input(r: Run, images: torch.Tensor) -> torch.Tensor:
    """uint8 batch -> float input, the same arithmetic as ToTensor then Normalize.

    The layout change happens on the uint8 batch (a quarter of the bytes) and
    .float() keeps it, so the float input is written once."""
    if r.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    x = images.float().div_(255)
    if r.config.normalize:
        x = x.sub_(r.mean).div_(r.std)
    return x


def autocast(r: Run):
    return torch.autocast(r.device.type, dtype=torch.bfloat16, enabled=r.config.precision == "bf16")


def step(r: Run, x: torch.Tensor, labels: torch.Tensor):
    """Forward, backward and optimizer step on a ready input; (cross-entropy, logits, penalty or None)."""
    cfg = r.config
    with autocast(r):
        logits = r.step_model(x)
        ce = F.cross_entropy(logits.float(), labels)
    pen = penalty(r.model, cfg.regularizer, cfg.strength)
    loss = ce if pen is None else ce + pen
    r.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    r.optimizer.step()
    return ce, logits, pen


def train_epoch(r: Run, epoch: int, emit, stop: threading.Event, name: str, live_loss: bool = False) -> dict:
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
        ce, logits, pen = step(r, to_input(r, images), labels)
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


def eval_logits(r: Run, x: torch.Tensor) -> torch.Tensor:
    with autocast(r):
        return r.model(x).float()


@torch.inference_mode()
def evaluate(r: Run) -> dict:
    r.model.eval()
    n = len(r.test_y)
    loss_sum = torch.zeros((), device=r.device)
    correct = torch.zeros((), device=r.device, dtype=torch.long)
    for i in range(0, n, EVAL_BATCH):
        labels = r.test_y[i:i + EVAL_BATCH]
        logits = eval_logits(r, to_input(r, r.test_x[i:i + EVAL_BATCH]))
        loss_sum += F.cross_entropy(logits, labels, reduction="sum")
        correct += (logits.argmax(1) == labels).sum()
    return {"test_loss": (loss_sum, n), "test_acc": (correct, n)}


def rng_state(r: Run) -> dict:
    state = {"torch": torch.get_rng_state(), "data": r.generator.get_state()}
    if r.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(r.device)
    return state


def set_rng_state(r: Run, state: dict) -> None:
    torch.set_rng_state(state["torch"])
    r.generator.set_state(state["data"])
    if "cuda" in state and r.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], r.device)


def checkpoint(r: Run, epoch: int, rows: list) -> dict:
    return {"epoch": epoch, "model": r.model.state_dict(), "optimizer": r.optimizer.state_dict(),
            "rng": rng_state(r), "metrics": rows, "config": r.config.to_dict()}


def apply_checkpoint(r: Run, state: dict) -> None:
    r.model.load_state_dict(state["model"])
    r.optimizer.load_state_dict(state["optimizer"])
    set_rng_state(r, state["rng"])


def means(sums: dict) -> dict:
    """{name: total / count} of an epoch's device-side sums: the epoch's one host sync."""
    totals = torch.stack([s.float() for s, _ in sums.values()]).tolist()
    return {name: total / count for total, (name, (_, count)) in zip(totals, sums.items())}


def run_epoch(r: Run, epoch: int, emit, stop: threading.Event, name: str) -> dict:
    """Train and evaluate one epoch; its metrics row (NaN or infinite values are the caller's to judge)."""
    t0 = time.perf_counter()
    stats = train_epoch(r, epoch, emit, stop, name, live_loss=True)
    batches = math.ceil(len(r.train_y) / r.config.batch_size)
    emit(BatchProgress(name, epoch, batches, batches, phase="eval"))
    stats.update(evaluate(r))
    return {"epoch": epoch, **means(stats), "seconds": time.perf_counter() - t0, "time": time.time()}
