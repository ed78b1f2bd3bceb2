"""How fast the real training pipeline runs next to the bare compute of the same model.

`measure` times the trainer's own epoch functions (index, augment, convert,
step, metrics on the device) and, beside them, the compute floor: forward +
backward + optimizer step, and eval forwards, on one input tensor already on the
device, with the same model build (memory format, precision, compile, eval
batch). pipeline/floor is the share of time the data path adds (1.0 = none).
With precision "auto" it times fp32 and bf16 side by side (`measure_precisions`).
No UI imports: the CLI prints the result.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch

from . import data as data_mod, trainer as loop
from .config import RunConfig
from .precision import resolve_precision
from .trainer import EVAL_BATCH, resolve_device


@dataclass(frozen=True)
class BenchResult:
    device: str
    data: str              # what was timed on, e.g. "synthetic 5120+5000"
    train_images: int
    test_images: int
    repeats: int
    train_img_s: float     # the pipeline, best of the repeats
    eval_img_s: float
    floor_train_img_s: float
    floor_eval_img_s: float
    precision: str = "fp32"  # the arithmetic timed: fp32 or bf16 (autocast)

    @property
    def train_ratio(self) -> float:
        """pipeline time / floor time for training (1.0 = the pipeline costs nothing)."""
        return self.floor_train_img_s / self.train_img_s

    @property
    def eval_ratio(self) -> float:
        return self.floor_eval_img_s / self.eval_img_s


MAX_IMAGES = {"train": 50_000, "test": 10_000}  # CIFAR-10's own sets; a bigger pass measures nothing new


def size_problem(train_images: int, test_images: int, repeats: int) -> str | None:
    """Why these pass sizes cannot be benchmarked (one sentence), or None."""
    for name, n in (("train", train_images), ("test", test_images)):
        if not 1 <= n <= MAX_IMAGES[name]:
            return (f"--{name}-images: {n} is not allowed; use a whole number from 1 to {MAX_IMAGES[name]} "
                    f"(CIFAR-10's {name} set).")
    if repeats < 1:
        return f"--repeats: {repeats} is not allowed; use 1 or more."
    return None


def default_sizes(device: torch.device) -> tuple[int, int]:
    """Train and test images per timed pass: the study's epoch on a GPU, a short slice on a CPU."""
    return (25_000, 10_000) if device.type == "cuda" else (5_120, 5_000)


def bench_data(config: RunConfig, train_images: int, test_images: int) -> tuple[data_mod.Dataset, str]:
    """CIFAR-10 when the config asks for it and it is on disk, else the synthetic look-alike."""
    note = ""
    if config.dataset == "cifar10":
        try:
            full = data_mod.load_cifar10(config.data_dir, download=False)
        except data_mod.DataError:
            note = f" (no CIFAR-10 in {config.data_dir})"
        else:
            d = full.head(config.train_fraction)
            n = min(train_images, len(d.train_y))
            m = min(test_images, len(d.test_y))
            return data_mod.Dataset(d.train_x[:n], d.train_y[:n], d.test_x[:m], d.test_y[:m]), f"cifar10 {n}+{m}"
    d = data_mod.synthetic(train_images, test_images, seed=config.seed)
    return d, f"synthetic {train_images}+{test_images}{note}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def measure(config: RunConfig, dataset: data_mod.Dataset, *, repeats: int = 3, data: str = "") -> BenchResult:
    """Time the trainer's epoch functions and the compute floor of the same model on `dataset`."""
    return measure_each([config], dataset, repeats=repeats, data=data)[0]


def measure_precisions(config: RunConfig, dataset: data_mod.Dataset, *, repeats: int = 3,
                       data: str = "") -> list[BenchResult]:
    """fp32 and bf16 side by side when `config` says precision "auto"; else its one precision."""
    precisions = ("fp32", "bf16") if config.precision == "auto" else (config.precision,)
    return measure_each([config.replace(precision=p) for p in precisions], dataset, repeats=repeats, data=data)


def measure_each(configs: list[RunConfig], dataset: data_mod.Dataset, *, repeats: int = 3,
                 data: str = "") -> list[BenchResult]:
    """`measure` for several builds of the model (on the first config's device), one result each.

    After one untimed round, all passes of all builds alternate and each keeps
    its fastest, so a machine whose speed drifts skews them all alike."""
    device = resolve_device(configs[0].device)
    configs = [resolve_precision(c, device) for c in configs]
    passes = {}
    for i, config in enumerate(configs):
        # two runs with the same build: the floor's fresh model and optimizer do not share state
        for name, fn in {**_pipeline_passes(loop.prepare(config, dataset, device)),
                         **_floor_passes(loop.prepare(config, dataset, device))}.items():
            passes[i, name] = fn
    best = dict.fromkeys(passes, float("inf"))
    for r in range(repeats + 1):
        for key, fn in passes.items():
            seconds = _timed(fn, device)
            if r:
                best[key] = min(best[key], seconds)
    n, m = len(dataset.train_y), len(dataset.test_y)
    return [BenchResult(str(device), data, n, m, repeats, n / best[i, "train"], m / best[i, "eval"],
                        n / best[i, "floor_train"], m / best[i, "floor_eval"], config.precision)
            for i, config in enumerate(configs)]


def _pipeline_passes(run) -> dict:
    """One training epoch and one evaluation, exactly as the trainer runs them, ending in its one sync."""
    stop = threading.Event()

    def train():
        loop.means(loop.train_epoch(run, 1, lambda event: None, stop, "bench"))

    def evaluate():
        loop.means(loop.evaluate(run))

    return {"train": train, "eval": evaluate}


def _floor_passes(run) -> dict:
    """The same number of steps and eval forwards on one input already on the device."""
    bs = run.config.batch_size
    n, m = len(run.train_y), len(run.test_y)
    x, y = loop.to_input(run, run.train_x[:bs]), run.train_y[:bs]
    x_eval = loop.to_input(run, run.test_x[:EVAL_BATCH])
    full, last = divmod(n, bs)

    def train():
        run.model.train()
        for _ in range(full):
            loop.step(run, x, y)
        if last:
            loop.step(run, x[:last], y[:last])

    @torch.inference_mode()
    def evaluate():
        run.model.eval()
        for i in range(0, m, EVAL_BATCH):
            loop.eval_logits(run, x_eval[:min(EVAL_BATCH, m - i)])

    return {"floor_train": train, "floor_eval": evaluate}
