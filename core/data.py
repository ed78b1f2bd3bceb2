"""CIFAR-10 on disk -> uint8 tensors, the official download, and a synthetic look-alike.

Images are kept as one uint8 tensor of shape (N, 3, 32, 32): no PIL, no per-image
Python work. The download streams into a temporary file, checks its md5 and only
then moves the extracted folder into place, so an interrupted or corrupt
download never leaves a half-written data set behind.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import torch

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DataError(RuntimeError):
    """The data set could not be had; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    train_x: torch.Tensor  # uint8 (N, 3, 32, 32)
    train_y: torch.Tensor  # int64 (N,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple = CLASSES

    def head(self, fraction: float) -> "Dataset":
        """The first `fraction` of the training set (the study uses the first 50%)."""
        n = max(1, int(len(self.train_y) * fraction))
        return Dataset(self.train_x[:n], self.train_y[:n], self.test_x, self.test_y, self.classes)


def data_source(url: str | None = None, md5: str | None = None) -> tuple[str, str]:
    """The archive URL and md5: explicit values, else the environment, else the official ones."""
    return (url or os.environ.get("CIFAR_TUI_DATA_URL") or CIFAR_URL,
            (md5 or os.environ.get("CIFAR_TUI_DATA_MD5") or CIFAR_MD5).lower())


def load_cifar10(data_dir: str, url: str | None = None, md5: str | None = None,
                 download: bool = True) -> Dataset:
    """Read CIFAR-10 from `data_dir`, downloading it first if it is missing."""
    folder = os.path.join(data_dir, FOLDER)
    if not os.path.isdir(folder):
        if not download:
            raise DataError(f"CIFAR-10 is not in {data_dir}; put {ARCHIVE} there or allow the download.")
        fetch_cifar10(data_dir, url, md5)
    train = [_read_batch(folder, name) for name in TRAIN_FILES]
    test_x, test_y = _read_batch(folder, TEST_FILE)
    return Dataset(torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]), test_x, test_y)


def fetch_cifar10(data_dir: str, url: str | None = None, md5: str | None = None) -> None:
    """Download (or reuse a local copy of) the archive, check its md5 and extract it."""
    url, md5 = data_source(url, md5)
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the data folder {data_dir} ({e.strerror}); "
                        "choose another with --data-dir or CIFAR_TUI_DATA.") from None
    archive = os.path.join(data_dir, ARCHIVE)
    if not os.path.isfile(archive):
        _download(url, archive, data_dir)
    digest = _md5(archive)
    if digest != md5:
        os.replace(archive, archive + ".bad")
        raise DataError(f"{archive} has md5 {digest} but {md5} was expected: the file is corrupt or "
                        f"not CIFAR-10 (moved aside to {ARCHIVE}.bad); download it again, or give the "
                        "right checksum with --data-md5 / CIFAR_TUI_DATA_MD5.")
    _extract(archive, data_dir)


def _download(url: str, archive: str, data_dir: str) -> None:
    fd, part = tempfile.mkstemp(prefix=".download-", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        os.replace(part, archive)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise DataError(f"could not download CIFAR-10 from {url} ({reason}); put {ARCHIVE} into "
                        f"{data_dir}, or point at a mirror with --data-url / CIFAR_TUI_DATA_URL, "
                        "or use dataset=synthetic.") from None
    finally:
        if os.path.exists(part):
            os.unlink(part)


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _extract(archive: str, data_dir: str) -> None:
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=data_dir)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and os.path.dirname(m.name) == FOLDER]
            tar.extractall(tmp, members=members, **_tar_filter())
        got = os.path.join(tmp, FOLDER)
        missing = [n for n in TRAIN_FILES + [TEST_FILE] if not os.path.isfile(os.path.join(got, n))]
        if missing:
            raise DataError(f"{archive} does not hold the CIFAR-10 batches (missing {', '.join(missing)}); "
                            "delete it and download again.")
        os.replace(got, os.path.join(data_dir, FOLDER))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive} could not be unpacked ({e}); it is probably truncated: "
                        "delete it and download again.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tar_filter() -> dict:
    return {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class _NumpyOnly(pickle.Unpickler):
    """CIFAR-10 batches hold dicts of numpy arrays and lists; refuse anything else."""

    def find_class(self, module, name):
        if module.split(".")[0] == "numpy":
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def _read_batch(folder: str, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as f:
            batch = _NumpyOnly(f, encoding="latin1").load()
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise ValueError(f"shape {data.shape} with {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise ValueError("labels outside 0..9")
    except FileNotFoundError:
        raise DataError(f"{path} is missing: the CIFAR-10 folder is incomplete; delete {folder} "
                        "to download it again.") from None
    except PermissionError as e:  # the file may be fine: this user cannot read it
        raise DataError(f"{path} cannot be read ({e.strerror}); make it readable for this user "
                        "(e.g. chmod a+r), or point --data-dir at another copy.") from None
    except Exception as e:  # any garbage: wrong pickle, wrong keys, wrong shapes
        raise DataError(f"{path} is not a CIFAR-10 batch ({e}); delete {folder} "
                        "to download it again.") from None
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return x, torch.from_numpy(labels)


def synthetic(n_train: int = 10_000, n_test: int = 2_000, seed: int = 0) -> Dataset:
    """A deterministic, learnable CIFAR-10 look-alike made in memory.

    Noise plus a brighter square whose colour channel and position depend on
    the class: a CNN gets well above chance in an epoch or two.
    """
    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = torch.randint(0, 10, (n,), generator=g)
        x = torch.randint(0, 200, (n, 3, 32, 32), generator=g, dtype=torch.int16)
        # a faint square, jittered by up to 2 pixels: learnable, but not at once
        top = 2 + (y // 4) * 9 + torch.randint(-2, 3, (n,), generator=g)
        left = 3 + (y % 4) * 7 + torch.randint(-2, 3, (n,), generator=g)
        k = torch.arange(32)
        rows = (k >= top[:, None]) & (k < top[:, None] + 9)
        cols = (k >= left[:, None]) & (k < left[:, None] + 9)
        square = rows[:, :, None] & cols[:, None, :]
        channel = torch.nn.functional.one_hot(y % 3, 3).bool()
        x += 60 * (channel[:, :, None, None] & square[:, None]).to(torch.int16)
        return x.clamp_(0, 255).to(torch.uint8), y

    train_x, train_y = make(n_train)
    test_x, test_y = make(n_test)
    return Dataset(train_x, train_y, test_x, test_y)


def load(config, url: str | None = None, md5: str | None = None) -> Dataset:
    """The data set a RunConfig asks for, already cut to its train fraction (for a queue of
    runs, SharedData loads it once)."""
    return _load_full(config, url, md5).head(config.train_fraction)


def data_key(config) -> tuple:
    """What identifies the data set a RunConfig reads (before its train fraction is cut)."""
    if config.dataset == "synthetic":
        return ("synthetic",)
    return (config.dataset, os.path.abspath(os.path.expanduser(config.data_dir)))


class SharedData:
    """The data sets a queue of runs reads, each loaded once, and each copied once to each
    device it trains on: the seeds of a group and the runs of a preset then share one copy
    instead of reading, and uploading, the data again for every run.

    Runs only read these tensors (batches are gathered into new ones), so sharing them is
    safe. Give one to every `core.trainer.train` call of a queue (`data=`)."""

    def __init__(self, url: str | None = None, md5: str | None = None):
        self.url, self.md5 = url, md5
        self._sets: dict = {}  # (data_key, device) -> Dataset

    def load(self, config, device=None) -> Dataset:
        """The data set `config` asks for, on `device` (None: where it was read), cut to its
        train fraction."""
        key = data_key(config)
        if (key, None) not in self._sets:
            self._sets[key, None] = _load_full(config, self.url, self.md5)
        if device is not None and (key, str(device)) not in self._sets:
            self._sets[key, str(device)] = _to_device(self._sets[key, None], device)
        return self._sets[key, None if device is None else str(device)].head(config.train_fraction)


def _load_full(config, url, md5) -> Dataset:
    return synthetic() if config.dataset == "synthetic" else load_cifar10(config.data_dir, url, md5)


def _to_device(data: Dataset, device) -> Dataset:
    """A copy on `device` (tensors already there are kept as they are)."""
    return Dataset(*(t.to(device) for t in (data.train_x, data.train_y, data.test_x, data.test_y)),
                   data.classes)
