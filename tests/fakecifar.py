"""Small CIFAR-10 look-alikes in the real on-disk format, made by the tests themselves."""
from __future__ import annotations

import hashlib
import os
import pickle
import tarfile

import numpy as np

from core.data import FOLDER


def write_batches(root, per_batch: int = 40, n_test: int = 100, seed: int = 0) -> str:
    """root/cifar-10-batches-py with 5 training batches and a test batch; returns that folder."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, FOLDER)
    os.makedirs(base, exist_ok=True)

    def batch(n, label):
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 120, (n, 3, 32, 32)).astype(np.uint8)
        for i, c in enumerate(labels):  # learnable: a bright patch per class
            data[i, c % 3, 3 * (c // 3):3 * (c // 3) + 8, 4:12] = 250
        return {"batch_label": label, "labels": labels.tolist(), "data": data.reshape(n, 3072),
                "filenames": [f"{label}_{j}.png" for j in range(n)]}

    for i in range(1, 6):
        with open(os.path.join(base, f"data_batch_{i}"), "wb") as f:
            pickle.dump(batch(per_batch, f"training batch {i} of 5"), f)
    with open(os.path.join(base, "test_batch"), "wb") as f:
        pickle.dump(batch(n_test, "testing batch 1 of 1"), f)
    with open(os.path.join(base, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": ["c%d" % i for i in range(10)], "num_vis": 3072}, f)
    return base


def write_archive(root, **kw) -> tuple[str, str]:
    """cifar-10-python.tar.gz as the real site serves it; returns (path, md5)."""
    src = os.path.join(root, "src")
    base = write_batches(src, **kw)
    path = os.path.join(root, "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz") as t:
        t.add(base, arcname=FOLDER)
    return path, hashlib.md5(open(path, "rb").read()).hexdigest()
