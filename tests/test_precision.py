"""precision=auto: what it resolves to per device and capability (patched probes), what a run
records, that a resume keeps the precision its run began with, bit for bit, and the bench
report with fp32 and bf16 side by side."""
import contextlib
import json
import re
import threading

import pytest
import torch

import core.precision as precision
from core.config import ConfigError, RunConfig, make_config
from core.data import synthetic
from core.events import EpochDone, RunStarted
from core.lifecycle import train
from core.records import read_metrics
from core.resume import resume_config
from tui.cli import main

SMALL = synthetic(300, 100)
CPU, MPS = torch.device("cpu"), torch.device("mps")
NO_BF16 = ("avx2", "avx512_f", "avx512_vnni")  # a fast CPU, but without bf16 dot products


def cfg(**kw):
    return make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 50, "device": "cpu",
                        "train_fraction": 1.0, "augment": True, **kw})


def cpu_features(monkeypatch, *names):
    """Make torch's cpuinfo report exactly `names` (and the other x86 features as absent)."""
    caps = {name: name in names for name in (*NO_BF16, "amx_tile", "amx_bf16", "avx512_bf16")}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)


def resolved(config, device):
    return precision.resolve_precision(config, device).precision


def curves(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "time")} for row in read_metrics(run_dir)]


def stored(run_dir):
    return json.loads((run_dir / "config.json").read_text())["config"]["precision"]


def test_auto_is_the_default_and_the_other_two_are_one_setting_away():
    assert RunConfig().precision == make_config().precision == "auto"
    assert make_config({"precision": "FP32"}).precision == "fp32"
    assert make_config({"precision": "bf16"}).precision == "bf16"


@pytest.mark.parametrize("features, expected", [
    ((), "fp32"),
    (NO_BF16, "fp32"),
    (("amx_tile", "amx_bf16"), "bf16"),  # Intel Sapphire Rapids and later
    ((*NO_BF16, "avx512_bf16"), "bf16"),  # Cooper Lake, AMD Zen 4 and later
])
def test_auto_on_a_cpu_follows_its_bf16_instructions(monkeypatch, features, expected):
    cpu_features(monkeypatch, *features)
    assert resolved(make_config(), CPU) == expected


@pytest.mark.parametrize("text, expected", [
    ("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n", "bf16"),
    ("flags\t\t: fpu sse2 amx_bf16 amx_tile\n", "bf16"),
    ("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n", "fp32"),
    ("model name\t: something with avx512_bf16 in its name\n", "fp32"),  # only the flags line counts
    (None, "fp32"),  # no /proc/cpuinfo (not Linux)
])
def test_without_torch_cpuinfo_the_flags_of_proc_cpuinfo_decide(monkeypatch, tmp_path, text, expected):
    monkeypatch.delattr(torch.cpu, "get_capabilities")
    path = tmp_path / "cpuinfo"
    if text is not None:
        path.write_text("processor\t: 0\n" + text)
    monkeypatch.setattr(precision, "CPUINFO", str(path))
    assert resolved(make_config(), CPU) == expected


@pytest.fixture
def fake_cuda(monkeypatch):
    """A CUDA build with GPUs whose bf16 is native or only emulated; records which GPU was asked."""
    gpu = {"native": True, "asked": []}

    def is_bf16_supported(including_emulation=True):
        return gpu["native"] or including_emulation  # torch says True for emulated bf16 by default

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "device", lambda d: gpu["asked"].append(str(d)) or contextlib.nullcontext())
    return gpu


def test_auto_on_a_gpu_with_native_bf16_is_bf16(fake_cuda):
    assert resolved(make_config(), torch.device("cuda:1")) == "bf16"
    assert fake_cuda["asked"] == ["cuda:1"]  # the probe asks about the run's GPU, not the current one


def test_auto_on_a_gpu_that_only_emulates_bf16_is_fp32(fake_cuda):
    fake_cuda["native"] = False  # e.g. a T4 or V100: bf16 works there, but slower than fp32
    assert resolved(make_config(), torch.device("cuda")) == "fp32"


def test_auto_without_cuda_is_fp32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolved(make_config(), torch.device("cuda")) == "fp32"


def test_auto_on_mps_is_fp32_whatever_the_cpu(monkeypatch):
    cpu_features(monkeypatch, "avx512_bf16")
    assert resolved(make_config(), MPS) == "fp32"


@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept_on_every_device(monkeypatch, fake_cuda, setting):
    fake_cuda["native"] = False
    cpu_features(monkeypatch)
    for device in (CPU, torch.device("cuda"), MPS):
        assert resolved(make_config({"precision": setting}), device) == setting


def test_a_run_records_and_trains_in_what_auto_resolved_to(monkeypatch, tmp_path):
    runs, started = {}, {}
    for name, features, setting in [("auto-fast", ("avx512_bf16",), "auto"), ("auto-plain", NO_BF16, "auto"),
                                    ("bf16", NO_BF16, "bf16"), ("fp32", ("avx512_bf16",), "fp32")]:
        cpu_features(monkeypatch, *features)
        events = []
        end = train(cfg(epochs=1, precision=setting), events.append, logdir=str(tmp_path), run=name, dataset=SMALL)
        assert end.status == "finished", end.message
        started[name] = next(e.precision for e in events if isinstance(e, RunStarted))
        runs[name] = tmp_path / "custom" / name
    assert {name: stored(d) for name, d in runs.items()} == {
        "auto-fast": "bf16", "auto-plain": "fp32", "bf16": "bf16", "fp32": "fp32"} == started
    checkpoint = torch.load(runs["auto-fast"] / "checkpoint.pt", weights_only=False)
    assert checkpoint["config"]["precision"] == "bf16"
    # the record is not only a label: auto trained in exactly that arithmetic
    assert curves(runs["auto-fast"]) == curves(runs["bf16"]) != curves(runs["fp32"])
    assert curves(runs["auto-plain"]) == curves(runs["fp32"])


def stop_after_first_epoch(tmp_path, config, name):
    stop = threading.Event()
    part = train(config, lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                 logdir=str(tmp_path), run=name, dataset=SMALL)
    assert part.status == "stopped" and part.epochs_done == 1
    return tmp_path / "custom" / name


@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path, setting):
    full = train(cfg(precision=setting), logdir=str(tmp_path), run="full", dataset=SMALL)
    part = stop_after_first_epoch(tmp_path, cfg(precision=setting), "part")
    config, _, _ = resume_config(part)
    assert train(config, dataset=SMALL, resume_dir=part).status == "finished"
    assert len(curves(part)) == 3 and curves(part) == curves(full.run_dir)


@pytest.mark.parametrize("began, resumed_on, kept", [
    (("avx512_bf16",), NO_BF16, "bf16"),  # began where auto is bf16, carries on where it would be fp32
    (NO_BF16, ("amx_bf16",), "fp32"),  # e.g. a record made before auto was the default
])
def test_resume_keeps_the_precision_the_run_began_with(monkeypatch, tmp_path, began, resumed_on, kept):
    full = train(cfg(precision=kept), logdir=str(tmp_path), run="full", dataset=SMALL)
    cpu_features(monkeypatch, *began)
    part = stop_after_first_epoch(tmp_path, cfg(), "part")
    assert stored(part) == kept
    cpu_features(monkeypatch, *resumed_on)  # another machine
    assert resume_config(part)[0].precision == kept
    assert resume_config(part, {"precision": "auto"})[0].precision == kept  # asking for auto is no change
    other = "fp32" if kept == "bf16" else "bf16"
    with pytest.raises(ConfigError, match="precision: cannot change when resuming"):
        resume_config(part, {"precision": other})
    ended = train(cfg(), dataset=SMALL, resume_dir=part)  # the trainer, given auto, agrees
    assert ended.status == "finished", ended.message
    assert stored(part) == kept and curves(part) == curves(full.run_dir)
    refused = train(cfg(precision=other, epochs=4), dataset=SMALL, resume_dir=part)
    assert refused.status == "failed" and "precision cannot change" in refused.message


BENCH = ["bench", "--set", "device=cpu", "--set", "batch_size=64", "--train-images", "130", "--test-images", "60",
         "--repeats", "1"]
ROW = re.compile(r"^(train|eval) (fp32|bf16)\s+([\d.]+)\s+[\d.]+\s+[\d.]+$")


def bench_report(capsys, *args):
    assert main([*BENCH, *args]) == 0
    out = capsys.readouterr().out
    rates = {(m[1], m[2]): float(m[3]) for m in map(ROW.match, out.splitlines()) if m}
    return out, rates


@pytest.mark.parametrize("features, auto", [(("avx512_bf16",), "bf16"), (NO_BF16, "fp32")])
def test_bench_times_fp32_and_bf16_side_by_side(monkeypatch, capsys, features, auto):
    cpu_features(monkeypatch, *features)
    out, rates = bench_report(capsys)
    assert set(rates) == {(phase, p) for phase in ("train", "eval") for p in ("fp32", "bf16")}
    speedup = re.search(r"bf16/fp32: train ([\d.]+)x, eval ([\d.]+)x", out)
    assert float(speedup[1]) == pytest.approx(rates["train", "bf16"] / rates["train", "fp32"], abs=0.01)
    assert float(speedup[2]) == pytest.approx(rates["eval", "bf16"] / rates["eval", "fp32"], abs=0.01)
    assert f"precision=auto trains in {auto} on this device." in out


def test_bench_with_an_explicit_precision_times_only_that_one(capsys):
    out, rates = bench_report(capsys, "--set", "precision=bf16")
    assert set(rates) == {("train", "bf16"), ("eval", "bf16")} and "bf16/fp32" not in out
    assert "precision=bf16" in out.splitlines()[0]
