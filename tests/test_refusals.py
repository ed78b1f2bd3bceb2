"""Bad input that used to be taken for something else: each gets its own sentence and exit code.

Permission cases run the CLI with every capability dropped (setpriv), since root ignores chmod."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.records import read_run
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--set", "dataset=synthetic", "--set", "epochs=1", "--set", "train_fraction=0.02", "--set", "device=cpu"]
no_caps = pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv(1) to drop root's capabilities")


def refused(capsys, *args) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("cifar-tui: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("seeds", ["+3", "٣", "3,+4", "٣,4", "1_0"])
def test_seeds_are_ascii_digits_without_a_sign(capsys, tmp_path, seeds):
    err = refused(capsys, "run", "--seeds", seeds, "--logdir", str(tmp_path / "runs"), *TINY)
    assert "is not a seed" in err or "is neither a number of seeds nor a list of seeds" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("value", ["+2", "٢"])
def test_whole_numbers_are_ascii_digits_without_a_sign(capsys, tmp_path, value):
    err = refused(capsys, "run", "--parallel", value, "--logdir", str(tmp_path / "runs"), *TINY)
    assert err == f"cifar-tui: --parallel: {value!r} is not a whole number; use 1 or more, e.g. --parallel 2.\n"


@pytest.mark.parametrize("command", [["run", *TINY], ["compare"], []], ids=["run", "compare", "console"])
def test_an_empty_logdir_is_refused_not_taken_for_runs(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    args = [*command[:1], "--logdir", "", *command[1:]] if command else ["--logdir", ""]
    err = refused(capsys, *args)
    assert err == ("cifar-tui: --logdir is empty; name a folder, e.g. --logdir runs, or leave --logdir out "
                   "for $CIFAR_TUI_LOGDIR or ./runs.\n")
    assert os.listdir(tmp_path) == []


@pytest.fixture
def run_dir(tmp_path, capsys):
    assert main(["run", "--name", "r", "--logdir", str(tmp_path / "logs"), *TINY]) == 0
    capsys.readouterr()
    return tmp_path / "logs" / "custom" / "r"


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_lock_that_is_a_folder_refuses_the_resume(capsys, run_dir):
    (run_dir / ".lock").unlink()
    (run_dir / ".lock").mkdir()
    before = snapshot(run_dir)
    assert main(["run", "--resume", str(run_dir), "--set", "epochs=2"]) == 2
    said = capsys.readouterr()
    out = " ".join((said.out + said.err).split())
    assert f"{run_dir}/.lock is a folder, not the run's .lock file; remove it (rmdir), or start a new run." in out, out
    assert "--logdir" not in out and snapshot(run_dir) == before


def cli_without_caps(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    return subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-m", "tui.cli",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@no_caps
def test_a_read_only_run_folder_refuses_the_resume(run_dir):
    before = snapshot(run_dir)
    run_dir.chmod(0o555)
    try:
        done = cli_without_caps("run", "--resume", str(run_dir), "--set", "epochs=2")
    finally:
        run_dir.chmod(0o755)
    out = " ".join(done.stdout.split())
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{run_dir} cannot be written (Permission denied); make it writable, then resume again." in out, out
    assert "--logdir" not in out and snapshot(run_dir) == before and read_run(run_dir).status == "finished"


@no_caps
def test_an_unreadable_batch_file_is_called_unreadable_not_damaged(cifar_dir, tmp_path):
    batch = Path(cifar_dir, "cifar-10-batches-py", "data_batch_1")
    batch.chmod(0)
    done = cli_without_caps("run", "--name", "r", "--logdir", str(tmp_path / "logs"), "--data-dir", cifar_dir,
                            "--set", "dataset=cifar10", "--set", "epochs=1", "--set", "device=cpu")
    out = " ".join(done.stdout.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{batch} cannot be read (Permission denied); make it readable for this user (e.g. chmod a+r), " \
           "or point --data-dir at another copy." in out, out
    assert "not a CIFAR-10 batch" not in out and "delete" not in out
