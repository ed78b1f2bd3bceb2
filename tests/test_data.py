import os
import pickle
import socket

import pytest
import torch

from core import data
from core.data import DataError, load_cifar10


def test_loads_batches_into_one_uint8_tensor(cifar_dir):
    d = load_cifar10(cifar_dir, download=False)
    assert d.train_x.dtype == torch.uint8 and d.train_x.shape == (200, 3, 32, 32)
    assert d.test_x.shape == (100, 3, 32, 32) and d.train_y.dtype == torch.int64
    raw = pickle.load(open(os.path.join(cifar_dir, data.FOLDER, "data_batch_2"), "rb"), encoding="latin1")
    assert torch.equal(d.train_x[40].flatten(), torch.from_numpy(raw["data"][0]))  # batches in order
    assert d.train_y[40] == raw["labels"][0]


def test_head_takes_the_first_fraction(cifar_dir):
    d = load_cifar10(cifar_dir).head(0.5)
    full = load_cifar10(cifar_dir)
    assert len(d.train_y) == 100 and torch.equal(d.train_x, full.train_x[:100])
    assert len(d.test_y) == 100


def test_download_from_a_mirror_with_md5(tmp_path, served_archive):
    url, md5 = served_archive
    target = tmp_path / "fresh"
    d = load_cifar10(str(target), url=url, md5=md5)
    assert d.train_x.shape == (200, 3, 32, 32)
    assert sorted(os.listdir(target)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_environment_can_point_at_the_mirror(tmp_path, served_archive, monkeypatch):
    url, md5 = served_archive
    monkeypatch.setenv("CIFAR_TUI_DATA_URL", url)
    monkeypatch.setenv("CIFAR_TUI_DATA_MD5", md5)
    assert len(load_cifar10(str(tmp_path / "env")).test_y) == 100


def test_wrong_md5_is_one_clear_sentence_and_leaves_no_data_folder(tmp_path, served_archive):
    url, _ = served_archive
    target = tmp_path / "bad"
    with pytest.raises(DataError) as e:
        load_cifar10(str(target), url=url, md5="0" * 32)
    msg = str(e.value)
    assert "md5" in msg and "--data-md5" in msg and "\n" not in msg
    assert not (target / data.FOLDER).exists()
    assert not (target / data.ARCHIVE).exists()  # moved aside, so the next try downloads again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_url_says_where_to_put_the_archive(tmp_path):
    target = tmp_path / "offline"
    with pytest.raises(DataError) as e:
        load_cifar10(str(target), url=f"http://127.0.0.1:{free_port()}/cifar.tar.gz")
    msg = str(e.value)
    assert "could not download" in msg and str(target) in msg and "--data-url" in msg
    assert "synthetic" in msg
    assert os.listdir(target) == []  # no partial file left


def test_a_local_archive_is_used_without_network(tmp_path, served_archive):
    url, md5 = served_archive
    src = tmp_path / "www" / data.ARCHIVE
    target = tmp_path / "airgap"
    target.mkdir()
    (target / data.ARCHIVE).write_bytes(src.read_bytes())
    d = load_cifar10(str(target), url=f"http://127.0.0.1:{free_port()}/x", md5=md5)
    assert len(d.train_y) == 200


def test_truncated_archive(tmp_path, served_archive):
    _, _ = served_archive
    blob = (tmp_path / "www" / data.ARCHIVE).read_bytes()
    target = tmp_path / "trunc"
    target.mkdir()
    (target / data.ARCHIVE).write_bytes(blob[: len(blob) // 2])
    import hashlib

    md5 = hashlib.md5(blob[: len(blob) // 2]).hexdigest()
    with pytest.raises(DataError, match="truncated"):
        load_cifar10(str(target), md5=md5)
    assert not (target / data.FOLDER).exists()
    assert [p for p in os.listdir(target) if p.startswith(".extract")] == []


@pytest.mark.parametrize("content, expected", [
    (b"not a pickle at all", "is not a CIFAR-10 batch"),
    (pickle.dumps({"data": [[1, 2, 3]], "labels": [0]}), "is not a CIFAR-10 batch"),
    (pickle.dumps({"labels": [0]}), "is not a CIFAR-10 batch"),
])
def test_garbage_in_the_data_folder(cifar_dir, content, expected):
    with open(os.path.join(cifar_dir, data.FOLDER, "data_batch_3"), "wb") as f:
        f.write(content)
    with pytest.raises(DataError, match=expected) as e:
        load_cifar10(cifar_dir)
    assert "data_batch_3" in str(e.value) and "delete" in str(e.value)


def test_a_pickle_that_runs_code_is_refused(cifar_dir, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/pwned",))

    with open(os.path.join(cifar_dir, data.FOLDER, "test_batch"), "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(DataError):
        load_cifar10(cifar_dir)
    assert not (tmp_path / "pwned").exists()


def test_missing_batch_file(cifar_dir):
    os.unlink(os.path.join(cifar_dir, data.FOLDER, "test_batch"))
    with pytest.raises(DataError, match="test_batch is missing"):
        load_cifar10(cifar_dir)


def test_synthetic_is_deterministic_and_shaped_like_cifar():
    a, b = data.synthetic(500, 100), data.synthetic(500, 100)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.train_x.dtype == torch.uint8 and a.train_x.shape == (500, 3, 32, 32)
    assert set(a.train_y.tolist()) == set(range(10))
