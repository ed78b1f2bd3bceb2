"""Repeats over seeds: --seeds and a preset's seeds, the run folders they make, bad input, the
data set loaded once per queue, and `run quick-demo --seeds 3` then `compare` end to end."""
import json
import re
import threading

import pytest
import torch

from core import data as data_mod
from core.config import ConfigError, make_config
from core.events import EpochDone
from core.lifecycle import train
from core.presets import PresetError, find, load_file
from core.records import list_runs, read_metrics, read_run
from core.job import Job
from core.seeds import Seeds, expand, parse_seeds
from cpu import one_thread
from tui.cli import main

TINY = data_mod.synthetic(600, 200)


@pytest.fixture
def counted_loads(monkeypatch):
    """core.data.synthetic made tiny, and counted."""
    calls = []

    def tiny(*args, **kwargs):
        calls.append(1)
        return TINY
    monkeypatch.setattr("core.data.synthetic", tiny)
    return calls


# --- the seeds a run gets ------------------------------------------------------------------

def test_count_and_list():
    assert parse_seeds("3").of(4) == [4, 5, 6]  # from the run's seed upward
    assert parse_seeds(" 4, 7,5 ").of(99) == [4, 7, 5]
    assert parse_seeds("1").of(4) == [4]


def test_expand_names_each_seed_and_goes_seed_by_seed():
    a, b = make_config({"seed": 4}), make_config({"seed": 10, "lr": 0.01})
    jobs = expand([("a", a), ("b", b)], Seeds(count=2))
    assert [(j.name, j.config.seed, j.group) for j in jobs] == [
        ("a-s4", 4, "a"), ("b-s10", 10, "b"), ("a-s5", 5, "a"), ("b-s11", 11, "b")]
    assert jobs[1].config == b.replace(seed=10) and jobs[3].config.lr == 0.01
    # one seed (the default): the run keeps its plain name, as before seeds existed
    assert expand([("a", a)]) == [Job(name="a", config=a, group="a")]


@pytest.mark.parametrize("text, expected", [
    ("0", "--seeds: 0 seeds is too few; use 1 or more"),
    ("-1", "--seeds: -1 seeds is too few"),
    ("a,b", "--seeds: 'a' is not a seed; seeds are whole numbers"),
    ("five", "--seeds: 'five' is neither a number of seeds nor a list of seeds"),
    ("4,5,4", "--seeds: seed 4 is listed twice"),
    ("4,-2", "--seeds: seed -2 is not allowed"),
])
def test_bad_seeds_say_why(text, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_seeds(text)


def test_preset_seeds_key(tmp_path):
    path = tmp_path / "rep.toml"
    path.write_text("seeds = 3\n[settings]\nseed = 7\n[[runs]]\nname = 'a'\n")
    preset = load_file(path)
    assert [(j.name, j.config.seed) for j in expand(preset.runs, preset.seeds)] == [
        ("a-s7", 7), ("a-s8", 8), ("a-s9", 9)]
    path.write_text("seeds = [1, 3]\n[[runs]]\nname = 'a'\n")
    assert load_file(path).seeds.of(4) == [1, 3]
    assert find("quick-demo").seeds.of(4) == [4]  # no seeds key: one seed


@pytest.mark.parametrize("value, expected", [
    ('"five"', "seeds: 'five' is not allowed; give a number of seeds (seeds = 3) or a list"),
    ("0", "seeds: 0 seeds is too few"),
    ("true", "seeds: True is not allowed"),
    ("[4, 4]", "seeds: seed 4 is listed twice"),
    ("[]", "seeds: [] is not allowed"),
])
def test_bad_preset_seeds(tmp_path, value, expected):
    path = tmp_path / "bad.toml"
    path.write_text(f"seeds = {value}\n[[runs]]\nname = 'a'\n")
    with pytest.raises(PresetError, match=re.escape(f"{path}: {expected}")):
        load_file(path)


@pytest.mark.parametrize("args, expected", [
    (["quick-demo", "--seeds", "0"], "--seeds: 0 seeds is too few"),
    (["quick-demo", "--seeds", "-1"], "--seeds: -1 seeds is too few"),
    (["quick-demo", "--seeds", "a,b"], "--seeds: 'a' is not a seed"),
    (["quick-demo", "--seeds", "4,5,4"], "--seeds: seed 4 is listed twice"),
    (["--set", "epochs=1", "--seeds", "2,2"], "--seeds: seed 2 is listed twice"),
    (["--resume", "RUN", "--seeds", "3"], "--seeds starts new runs and --resume carries on what was planned"),
    (["PRESET"], "seeds: 'five' is not allowed"),
])
def test_bad_seeds_on_the_command_line_exit_2_and_write_nothing(tmp_path, capsys, counted_loads, args, expected):
    preset = tmp_path / "five.toml"
    preset.write_text('seeds = "five"\n[[runs]]\nname = "a"\n')
    resumable = tmp_path / "old" / "x" / "baseline"
    resumable.mkdir(parents=True)
    args = [str(preset) if a == "PRESET" else str(resumable) if a == "RUN" else a for a in args]
    logdir = tmp_path / "runs"
    assert main(["run", *args, "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not logdir.exists() and counted_loads == []


# --- the data set, once per queue (the three_seeds fixture below counts the loads too) ------

def test_shared_data_copies_to_each_device_once(monkeypatch, counted_loads):
    copies = []
    to_device = data_mod._to_device
    monkeypatch.setattr(data_mod, "_to_device", lambda d, dev: copies.append(str(dev)) or to_device(d, dev))
    shared = data_mod.SharedData()
    config = make_config({"dataset": "synthetic", "train_fraction": 0.5})
    first = shared.load(config, torch.device("meta"))
    second = shared.load(config.replace(seed=9, lr=0.1), torch.device("meta"))
    whole = shared.load(config.replace(train_fraction=1.0), torch.device("meta"))
    assert copies == ["meta"] and len(counted_loads) == 1
    assert first.train_x.device.type == "meta" and len(first.train_y) == 300 and len(whole.train_y) == 600
    assert second.train_x.shape == first.train_x.shape
    host = shared.load(config)  # where it was read: no copy
    assert host.train_x.device.type == "cpu" and copies == ["meta"]


# --- run quick-demo --seeds 3, then compare ------------------------------------------------

@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    """`cifar-tui run quick-demo --seeds 3` (2 epochs, tiny data): the log dir, and how many
    times the data set was loaded."""
    logdir = tmp_path_factory.mktemp("runs")
    loads = []
    with pytest.MonkeyPatch.context() as mp, one_thread():
        mp.setattr("core.data.synthetic", lambda *a, **k: loads.append(1) or TINY)
        assert main(["run", "quick-demo", "--seeds", "3", "--set", "epochs=2", "--set", "device=cpu",
                     "--set", "train_fraction=1.0", "--logdir", str(logdir)]) == 0
    return logdir, len(loads)


def test_each_seed_is_its_own_record_naming_its_group(three_seeds):
    logdir, loads = three_seeds
    folder = logdir / "quick-demo"
    names = sorted(p.name for p in folder.iterdir() if p.is_dir())  # beside them: study.json
    assert names == [f"{run}-s{seed}" for run in ("augmentation+normalization", "baseline") for seed in (4, 5, 6)]
    assert len(list_runs(logdir)) == 6 and loads == 1  # six runs, one load of the data
    for name in names:
        meta = json.loads((folder / name / "config.json").read_text())
        assert meta["group"] == name.rsplit("-s", 1)[0] and meta["run"] == name
        assert meta["config"]["seed"] == int(name.rsplit("-s", 1)[1])
        assert any(p.name.startswith("events.out.tfevents") for p in (folder / name).iterdir())
        assert (folder / name / "checkpoint.pt").is_file() and len(read_metrics(folder / name)) == 2
    # different seeds, different curves
    assert read_metrics(folder / "baseline-s4") != read_metrics(folder / "baseline-s5")


def row_blocks(out: str, labels) -> dict:
    """The table's rows as {label: [lines]}: a row starts with its label at the left edge."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("run "))
    blocks, current = {}, None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        head = line.split(" ")[0]
        if head in labels:
            current = blocks.setdefault(head, [])
        elif not line.startswith(" "):
            break  # the sentences after the table
        current.append(line)
    return blocks


def test_compare_shows_n_mean_sd_ci_p_and_verdict_at_80_columns(three_seeds, capsys, monkeypatch):
    three_seeds, _ = three_seeds
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", "quick-demo", "--logdir", str(three_seeds)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert out.splitlines()[0].startswith("quick-demo: 2 run(s), 3 seeds each;")
    assert "baseline baseline" not in out
    blocks = row_blocks(out, {"baseline", "augmentation+normalization"})
    base = [read_metrics(three_seeds / "quick-demo" / f"baseline-s{s}")[-1]["test_acc"] for s in (4, 5, 6)]
    mean = sum(base) / 3
    sd = (sum((v - mean) ** 2 for v in base) / 2) ** 0.5
    first = blocks["baseline"][0].split()
    assert first[:3] == ["baseline", "3", f"{mean:.3f}±{sd:.3f}"] and first[-1] == "reference"
    other = blocks["augmentation+normalization"]
    cells = other[0].split()
    assert cells[1] == "3" and re.fullmatch(r"\d\.\d{3}±\d\.\d{3}", cells[2])  # n, mean±sd
    assert re.fullmatch(r"[+-]\d\.\d{3}±\d\.\d{3}", cells[3])                 # Δ ± CI half-width
    assert re.fullmatch(r"<?\d\.\d{3}", cells[4])                              # adjusted p
    verdict = " ".join(" ".join(line.split()[5:] if k == 0 else line.split()) for k, line in enumerate(other))
    assert re.fullmatch(r"(better|worse|no detectable difference) \(paired, n = 3\)", verdict)
    # every line of a row is indented except its first: no wrapped name reads as another run
    for lines in blocks.values():
        assert all(line.startswith(" ") for line in lines[1:])
    assert "augmentation+normalization: Test accuracy" in out
    assert "(paired by seed; 95% CI), p " in " ".join(out.split())


def test_one_seed_resumes_on_its_own_and_rejoins_its_group(tmp_path, counted_loads, capsys):
    from core.compare import compare_paths
    from core.findruns import experiment_runs

    config = find("quick-demo").run("baseline").replace(epochs=2, device="cpu", train_fraction=1.0)
    with one_thread():
        _seed_4_and_a_stopped_seed_7(tmp_path, config)
    (group,) = compare_paths(experiment_runs(tmp_path / "solo")).groups
    assert group.seeds == [4] and group.dropped == [("baseline-s7", 7, "stopped after 1 epoch(s)")]
    with one_thread():
        assert main(["run", "--resume", str(tmp_path / "solo" / "baseline-s7"), "--logdir", str(tmp_path)]) == 0
    info = read_run(tmp_path / "solo" / "baseline-s7")
    assert info.status == "finished" and info.group == "baseline"
    (group,) = compare_paths(experiment_runs(tmp_path / "solo")).groups
    assert group.label == "baseline" and group.seeds == [4, 7] and group.dropped == []


def _seed_4_and_a_stopped_seed_7(tmp_path, config):
    done = train(config.replace(seed=4), logdir=str(tmp_path), experiment="solo", run="baseline-s4",
                 group="baseline")
    stop = threading.Event()
    ended = train(config.replace(seed=7), lambda e: isinstance(e, EpochDone) and stop.set(), stop,
                  logdir=str(tmp_path), experiment="solo", run="baseline-s7", group="baseline")
    assert (done.status, ended.status) == ("finished", "stopped")
