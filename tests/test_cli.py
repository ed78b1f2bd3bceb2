import hashlib
import os
import subprocess
import sys

import pytest

from core.records import read_metrics, read_run
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, env=None, timeout=300):
    """Run cifar-tui as a user would: a separate process."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=timeout)


def test_presets_lists_names_and_descriptions(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "quick-demo" in out and "ex2-regularization" in out and "Study 2" in out


@pytest.mark.parametrize("args, expected", [
    (["run", "--set", "lr=0"], "lr: 0.0 is not allowed"),
    (["run", "--set", "lr"], "key=value"),
    (["run", "--set", "colour=red"], "unknown setting 'colour'"),
    (["run", "nope"], "unknown preset 'nope'"),
    (["run", "quick-demo", "--run", "nope"], "has no run 'nope'"),
    (["run", "--run", "baseline"], "name the preset too"),
    (["run", "--resume", "/nonexistent/run"], "is not a run folder"),
    (["run", "quick-demo", "--resume", "x"], "give no preset"),
])
def test_bad_usage_exits_2_with_one_sentence(capsys, tmp_path, args, expected):
    assert main(["--logdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_argparse_usage_errors_exit_2():
    r = cli("run", "--bogus")
    assert r.returncode == 2 and "usage:" in r.stderr


def test_quick_demo_learns_offline(tmp_path):
    r = cli("run", "quick-demo", "--logdir", str(tmp_path), "--set", "epochs=3")
    assert r.returncode == 0, r.stderr
    assert "baseline  epoch 3/3" in r.stdout
    for name in ("baseline", "augmentation+normalization"):
        info = read_run(tmp_path / "quick-demo" / name)
        assert info.status == "finished" and len(info.metrics) == 3
    assert read_metrics(tmp_path / "quick-demo" / "baseline")[-1]["test_acc"] > 0.3  # chance is 0.1


def test_single_config_from_set(tmp_path, capsys):
    code = main(["run", "--logdir", str(tmp_path), "--name", "mine", "--set", "dataset=synthetic",
                 "--set", "epochs=1", "--set", "train_fraction=0.05", "--set", "optimizer=sgd", "--set", "lr=0.05"])
    assert code == 0
    info = read_run(tmp_path / "custom" / "mine")
    assert info.config["optimizer"] == "sgd" and info.config["lr"] == 0.05 and len(info.metrics) == 1


def test_run_trains_on_a_downloaded_archive(tmp_path, served_archive):
    url, md5 = served_archive
    data_dir = tmp_path / "data"
    r = cli("run", "--logdir", str(tmp_path / "logs"), "--data-dir", str(data_dir), "--data-url", url,
            "--data-md5", md5, "--set", "epochs=1", "--set", "train_fraction=1")
    assert r.returncode == 0, r.stderr
    assert (data_dir / "cifar-10-batches-py" / "test_batch").is_file()
    assert len(read_metrics(tmp_path / "logs" / "custom" / "run")) == 1


def test_a_failed_run_exits_1_with_its_reason(tmp_path):
    r = cli("run", "--logdir", str(tmp_path), "--data-dir", str(tmp_path / "none"),
            "--data-url", "http://127.0.0.1:9/x.tar.gz", "--set", "epochs=1")
    assert r.returncode == 1
    assert "could not download" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_wrong_md5_exits_1(tmp_path, served_archive):
    url, md5 = served_archive
    r = cli("run", "--logdir", str(tmp_path), "--data-dir", str(tmp_path / "d"), "--data-url", url,
            "--data-md5", "f" * 32, "--set", "epochs=1")
    assert r.returncode == 1
    archive = tmp_path / "d" / "cifar-10-python.tar.gz"
    assert f"{archive} has md5 {md5} but {'f' * 32} was expected" in " ".join(r.stdout.split())
    assert not archive.exists() and hashlib.md5((tmp_path / "d" / "cifar-10-python.tar.gz.bad").read_bytes()).hexdigest() == md5
    assert not (tmp_path / "d" / "cifar-10-batches-py").exists() and not (tmp_path / "custom").exists()


@pytest.mark.parametrize("experiment, name, used", [("../..", "a/b", "custom/a-b"), ("my study", " x ", "my-study/x")])
def test_the_names_printed_are_the_folders_used(tmp_path, capsys, experiment, name, used):
    assert main(["run", "--logdir", str(tmp_path), "--experiment", experiment, "--name", name,
                 "--set", "dataset=synthetic", "--set", "epochs=1", "--set", "train_fraction=0.02"]) == 0
    out = capsys.readouterr().out
    assert f"{used} on " in out and f"-> {tmp_path / used}" in " ".join(out.split())
    info = read_run(tmp_path / used)
    assert f"{info.experiment}/{info.name}" == used and [p.name for p in tmp_path.iterdir()] == [used.split("/")[0]]
