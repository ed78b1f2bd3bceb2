"""`cifar-tui bench`: the report's structure and the consistency of its numbers (no wall-time limits)."""
import re

import pytest
import torch

from core import bench
from core.config import make_config
from core.data import synthetic
from core.trainer import prepare
from tui.cli import main

ROW = re.compile(r"^((?:train|eval) (?:fp32|bf16))\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")
BOTH = {"train fp32", "train bf16", "eval fp32", "eval bf16"}  # precision=auto (the default) times both


def small(**kw):
    return make_config({"dataset": "synthetic", "device": "cpu", "batch_size": 64, **kw})


# Seconds each timed pass takes, round by round: the warm-up round (slowest, must not count),
# then two timed rounds whose fastest pass counts.
SCRIPT = {"train": [9.0, 0.5, 0.65], "eval": [9.0, 0.25, 0.2], "floor_train": [9.0, 0.4, 0.2], "floor_eval": [9.0, 0.2, 0.3]}


@pytest.fixture
def scripted(monkeypatch):
    """bench._timed runs each pass (so the real passes are exercised) but reports SCRIPT's seconds."""
    calls = []

    def timed(fn, device):
        fn()
        kind = {"train": "train", "evaluate": "eval"}[fn.__name__]
        name = f"floor_{kind}" if fn.__qualname__.startswith("_floor_passes") else kind
        calls.append(name)
        return SCRIPT[name][sum(c == name for c in calls) - 1]

    monkeypatch.setattr(bench, "_timed", timed)
    return calls


def test_measure_keeps_the_fastest_timed_pass_and_skips_the_warm_up(scripted):
    result = bench.measure(small(augment=True, normalize=True), synthetic(130, 70), repeats=2, data="x")
    assert scripted == ["train", "eval", "floor_train", "floor_eval"] * 3  # interleaved, warm-up first
    assert (result.train_images, result.test_images, result.repeats, result.device) == (130, 70, 2, "cpu")
    assert result.train_img_s == pytest.approx(130 / 0.5) and result.eval_img_s == pytest.approx(70 / 0.2)
    assert result.floor_train_img_s == pytest.approx(130 / 0.2) and result.floor_eval_img_s == pytest.approx(70 / 0.2)
    assert result.train_ratio == pytest.approx(2.5) and result.eval_ratio == pytest.approx(1.0)


def test_the_floor_steps_the_same_model_build_as_the_trainer():
    run = prepare(small(), synthetic(130, 70), torch.device("cpu"))
    passes = bench._floor_passes(run)
    before = [p.detach().clone() for p in run.model.parameters()]
    passes["floor_train"]()
    assert all(not torch.equal(a, p) for a, p in zip(before, run.model.parameters()))  # it really trained
    assert run.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert run.optimizer.param_groups[0]["fused"]
    assert run.optimizer.state[run.model.fc3.bias]["step"].item() == 3  # 2 full batches + the rest of 130


def parse(out):
    head, *lines = out.strip().splitlines()
    rows = {m[1]: [float(v) for v in m.groups()[1:]] for m in map(ROW.match, lines) if m}
    return dict(kv.split("=", 1) for kv in head.split()), rows


def test_bench_command_prints_rates_and_their_ratio(capsys, scripted):
    assert main(["bench", "--set", "device=cpu", "--set", "batch_size=64", "--set", "normalize=true", "--set", "precision=fp32",
                 "--train-images", "150", "--test-images", "60", "--repeats", "2"]) == 0
    head, rows = parse(capsys.readouterr().out)
    assert head["device"] == "cpu" and head["data"] == "synthetic_150+60" and head["batch_size"] == "64"
    assert head["normalize"] == "True" and head["augment"] == "False" and head["repeats"] == "2"
    assert head["precision"] == "fp32"  # an explicit precision times only that one
    assert rows == {"train fp32": [300.0, 750.0, 2.5], "eval fp32": [300.0, 300.0, 1.0]}  # 150/0.5, 150/0.2; 60/0.2


def test_bench_uses_cifar10_when_asked_and_present(capsys, cifar_dir):
    assert main(["bench", "--data-dir", cifar_dir, "--set", "dataset=cifar10", "--set", "device=cpu",
                 "--train-images", "500", "--test-images", "40", "--repeats", "1"]) == 0
    head, rows = parse(capsys.readouterr().out)
    assert head["data"] == "cifar10_100+40"  # the fixture's 200 training images, train_fraction 0.5
    assert set(rows) == BOTH


def test_bench_falls_back_to_synthetic_without_cifar10(tmp_path):
    _, data = bench.bench_data(make_config({"data_dir": str(tmp_path)}), 10, 5)
    assert data.startswith("synthetic 10+5") and "no CIFAR-10" in data


@pytest.mark.parametrize("args, expected", [
    (["--repeats", "0"], "1 or more"),
    (["--set", "lr=-1"], "lr: -1.0 is not allowed"),
    (["--train-images", "100000000"], "--train-images: 100000000 is not allowed; use a whole number from 1 to 50000"),
    (["--train-images", "0"], "--train-images: 0 is not allowed"),
    (["--test-images", "10001"], "--test-images: 10001 is not allowed; use a whole number from 1 to 10000"),
])
def test_bad_bench_usage_is_one_sentence(capsys, args, expected):
    assert main(["bench", "--set", "device=cpu", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
