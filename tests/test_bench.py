"""`cifar-tui bench`: the report's structure and the consistency of its numbers (no wall-time limits)."""
import re

import pytest
import torch

from core import bench
from core.config import make_config
from core.data import synthetic
from core.trainer import _prepare
from tui.cli import main

ROW = re.compile(r"^((?:train|eval) (?:fp32|bf16))\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")
BOTH = {"train fp32", "train bf16", "eval fp32", "eval bf16"}  # precision=auto (the default) times both


def small(**kw):
    return make_config({"dataset": "synthetic", "device": "cpu", "batch_size": 64, **kw})


def test_measure_times_the_pipeline_and_the_floor_on_the_given_data():
    result = bench.measure(small(augment=True, normalize=True), synthetic(130, 70), repeats=1, data="x")
    assert (result.train_images, result.test_images, result.repeats, result.device) == (130, 70, 1, "cpu")
    for rate in (result.train_img_s, result.eval_img_s, result.floor_train_img_s, result.floor_eval_img_s):
        assert 0 < rate < float("inf")
    assert result.train_ratio == pytest.approx(result.floor_train_img_s / result.train_img_s)
    assert result.eval_ratio == pytest.approx(result.floor_eval_img_s / result.eval_img_s)


def test_the_floor_steps_the_same_model_build_as_the_trainer():
    run = _prepare(small(), synthetic(130, 70), torch.device("cpu"))
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


def test_bench_command_prints_rates_and_their_ratio(capsys):
    assert main(["bench", "--set", "device=cpu", "--set", "batch_size=64", "--set", "normalize=true",
                 "--train-images", "150", "--test-images", "60", "--repeats", "1"]) == 0
    head, rows = parse(capsys.readouterr().out)
    assert head["device"] == "cpu" and head["data"] == "synthetic_150+60" and head["batch_size"] == "64"
    assert head["normalize"] == "True" and head["augment"] == "False" and head["repeats"] == "1"
    assert set(rows) == BOTH
    for pipe, floor, ratio in rows.values():
        assert pipe > 0 and floor > 0
        assert ratio == pytest.approx(floor / pipe, rel=0.01, abs=0.002)  # printed rounded


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
])
def test_bad_bench_usage_is_one_sentence(capsys, args, expected):
    assert main(["bench", "--set", "device=cpu", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
