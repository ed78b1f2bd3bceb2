"""Bad input at the command line: one sentence, the right exit code (2 usage, 1 failed run),
and the records already under the log dir left exactly as they were."""
import fcntl
import hashlib
import os
import shutil
import tarfile

import pytest

from core.config import FIELDS
from core.data import synthetic
from core.lifecycle import train
from core.records import read_run
from fakecifar import write_archive, write_batches
from tui.cli import main

SMALL = synthetic(200, 100)


@pytest.fixture(autouse=True)
def small_synthetic(monkeypatch):
    """`run` and `run --resume` here load SMALL as the synthetic set: the set the recorded runs
    were trained on (the default is 10,000 + 2,000 images, 50 times the work)."""
    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: SMALL)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A log dir holding one finished run, made once and copied into each test."""
    from core.config import make_config

    logdir = tmp_path_factory.mktemp("kept")
    config = make_config({"dataset": "synthetic", "epochs": 1, "batch_size": 50, "device": "cpu",
                          "train_fraction": 1.0})
    assert train(config, logdir=str(logdir), experiment="old", run="done", dataset=SMALL).status == "finished"
    return logdir


@pytest.fixture
def logdir(tmp_path, finished_run):
    shutil.copytree(finished_run, tmp_path / "logs")
    return tmp_path / "logs"


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_sentence(capsys, expected, stream="err"):
    captured = capsys.readouterr()
    text = getattr(captured, stream)
    assert expected in text, text
    assert "Traceback" not in captured.out + captured.err
    if stream == "err":
        assert text.count("\n") == 1, text


# Every RunConfig field, given a value of the wrong type or out of range on the command line.
BAD_SETTINGS = [
    ("dataset=mnist", "dataset: 'mnist' is not allowed; choose one of cifar10, synthetic."),
    ("data_dir=", "data_dir: must not be empty"),
    ("train_fraction=0", "train_fraction: 0.0 is not allowed; use a number in (0, 1]."),
    ("train_fraction=half", "train_fraction: 'half' is not allowed; use a number."),
    ("augment=maybe", "augment: 'maybe' is not allowed; use true or false."),
    ("normalize=2", "normalize: '2' is not allowed; use true or false."),
    ("regularizer=l3", "regularizer: 'l3' is not allowed; choose one of none, l1, l2, dropout."),
    ("reg_strength=-1", "reg_strength: -1.0 is not allowed; use 0 or more."),
    ("reg_strength=lots", "reg_strength: 'lots' is not allowed; use a number."),
    ("optimizer=rmsprop", "optimizer: 'rmsprop' is not allowed; choose one of sgd, adam."),
    ("lr=0", "lr: 0.0 is not allowed; use a learning rate above 0"),
    ("lr=nan", "lr: 'nan' is not allowed; use a finite number."),
    ("momentum=0.9", "momentum: only SGD uses momentum; set optimizer=sgd or momentum=0."),
    ("momentum=x", "momentum: 'x' is not allowed; use a number."),
    ("epochs=0", "epochs: 0 is not allowed; use 1 or more."),
    ("epochs=2.5", "epochs: '2.5' is not allowed; use a whole number."),
    ("epochs=1000001", "epochs: 1000001 is too many; use at most 100000."),
    ("batch_size=0", "batch_size: 0 is not allowed; use a whole number from 1 to 65536."),
    ("batch_size=big", "batch_size: 'big' is not allowed; use a whole number."),
    ("seed=-1", "seed: -1 is not allowed; use a whole number from 0 to 2**63-1."),
    ("seed=4.5", "seed: '4.5' is not allowed; use a whole number."),
    ("device=tpu", "device: 'tpu' is not allowed; use auto, cpu, cuda, cuda:N or mps."),
    ("device=cuda:99", "device: 'cuda:99'"),  # no GPU here, or no 100th GPU there
    ("logit_relu=perhaps", "logit_relu: 'perhaps' is not allowed; use true or false."),
    ("precision=fp8", "precision: 'fp8' is not allowed; choose one of auto, fp32, bf16."),
    ("compile=sometimes", "compile: 'sometimes' is not allowed; use true or false."),
    ("colour=red", "unknown setting 'colour'"),
    ("lr", "--set 'lr': write it as key=value"),
]


def test_the_table_covers_every_setting():
    assert {text.split("=")[0] for text, _ in BAD_SETTINGS} >= set(FIELDS)


@pytest.mark.parametrize("setting, expected", BAD_SETTINGS, ids=[s for s, _ in BAD_SETTINGS])
def test_a_bad_setting_exits_2_and_writes_nothing(logdir, capsys, setting, expected):
    before = snapshot(logdir)
    assert main(["run", "--logdir", str(logdir), "--set", "dataset=synthetic", "--set", setting]) == 2
    one_sentence(capsys, expected)
    assert snapshot(logdir) == before


def test_a_bad_setting_in_a_preset_run_exits_2(logdir, capsys, tmp_path):
    before = snapshot(logdir)
    assert main(["run", "quick-demo", "--logdir", str(logdir), "--set", "batch_size=0"]) == 2
    one_sentence(capsys, "batch_size: 0 is not allowed")
    assert snapshot(logdir) == before


PRESET_FILES = [
    ("broken.toml", "[settings\nepochs = 3\n", "not valid TOML"),
    ("wrongkey.toml", "colour = 'red'\n[[runs]]\nname = 'a'\n", "unknown key 'colour'"),
    ("norun.toml", "[settings]\nepochs = 3\n", "needs at least one [[runs]] table"),
    ("badvalue.toml", "[settings]\nlr = -1\n[[runs]]\nname = 'a'\n", "[settings] lr: -1.0 is not allowed"),
    ("twins.toml", "[[runs]]\nname = 'a'\n[[runs]]\nname = 'a'\n", "two runs are named 'a'"),
    ("binary.toml", b"\xff\xfe\x00garbage", "cannot be read"),
]


@pytest.mark.parametrize("name, text, expected", PRESET_FILES, ids=[n for n, _, _ in PRESET_FILES])
def test_a_broken_preset_file_exits_2(logdir, capsys, tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = snapshot(logdir)
    assert main(["run", str(path), "--logdir", str(logdir)]) == 2
    one_sentence(capsys, expected)
    assert snapshot(logdir) == before


@pytest.mark.parametrize("args, expected", [
    (["run", "nope"], "unknown preset 'nope'"),
    (["run", "missing.toml"], "preset file missing.toml does not exist."),
    (["run", "quick-demo", "--run", "nope"], "has no run 'nope'"),
])
def test_an_unknown_preset_exits_2(logdir, capsys, args, expected):
    before = snapshot(logdir)
    assert main([*args, "--logdir", str(logdir)]) == 2
    one_sentence(capsys, expected)
    assert snapshot(logdir) == before


def test_a_log_dir_that_cannot_be_written_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert main(["run", "--logdir", str(blocker / "runs"), "--set", "dataset=synthetic"]) == 2
    one_sentence(capsys, f"cannot write runs under {blocker / 'runs'} (Not a directory); "
                         "choose another folder with --logdir.")
    assert blocker.read_text() == "keep me"


def test_a_data_dir_holding_garbage_fails_the_run_with_exit_1(logdir, capsys, tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    write_batches(tmp_path / "data")
    (folder / "data_batch_3").write_bytes(b"\x80\x04garbage, not a pickle")
    before = snapshot(logdir)
    assert main(["run", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"), "--set", "epochs=1"]) == 1
    one_sentence(capsys, "data_batch_3 is not a CIFAR-10 batch", stream="out")
    assert snapshot(logdir) == before  # no half-made run folder either


@pytest.mark.parametrize("give_md5", [False, True], ids=["checksum", "unpacking"])
def test_a_truncated_archive_fails_with_exit_1(logdir, capsys, tmp_path, give_md5):
    path, _ = write_archive(str(tmp_path / "www"))
    data = tmp_path / "data"
    data.mkdir()
    blob = open(path, "rb").read()
    (data / "cifar-10-python.tar.gz").write_bytes(blob[:len(blob) // 2])
    md5 = hashlib.md5(blob[:len(blob) // 2]).hexdigest() if give_md5 else "0" * 32
    before = snapshot(logdir)
    assert main(["run", "--logdir", str(logdir), "--data-dir", str(data), "--data-md5", md5,
                 "--set", "epochs=1"]) == 1
    one_sentence(capsys, "probably truncated" if give_md5 else "the file is corrupt", stream="out")
    assert snapshot(logdir) == before
    assert not (data / "cifar-10-batches-py").exists()


def _stopped_run(logdir):
    """A run stopped after epoch 1 of 3, as `run --resume` finds it."""
    import threading

    from core.config import make_config
    from core.events import EpochDone

    stop = threading.Event()
    config = make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 50, "device": "cpu",
                          "train_fraction": 1.0})
    end = train(config, lambda e: isinstance(e, EpochDone) and stop.set(), stop, logdir=str(logdir),
                experiment="old", run="stopped", dataset=SMALL)
    return end.run_dir


@pytest.mark.parametrize("args, expected", [
    (["--set", "lr=0.5"], "lr: cannot change when resuming"),
    (["--set", "batch_size=10"], "batch_size: cannot change when resuming"),
    (["--set", "epochs=0"], "epochs: 0 is not allowed"),
])
def test_resume_with_a_changed_setting_exits_2(logdir, capsys, args, expected):
    run_dir = _stopped_run(logdir)
    before = snapshot(logdir)
    assert main(["run", "--resume", run_dir, *args]) == 2
    one_sentence(capsys, expected)
    assert snapshot(logdir) == before


def test_resume_of_a_run_being_written_exits_2(logdir, capsys):
    run_dir = logdir / "old" / "done"
    (run_dir / "status.json").unlink()  # as while it trains
    before = snapshot(logdir)
    with open(run_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert main(["run", "--resume", str(run_dir)]) == 2
    one_sentence(capsys, "is being written by another run right now; wait for it to end.")
    assert snapshot(logdir) == before


def test_resume_of_a_finished_run_exits_0_and_changes_nothing(logdir, capsys):
    before = snapshot(logdir)
    assert main(["run", "--resume", str(logdir / "old" / "done")]) == 0
    assert "already finished all 1 epochs" in capsys.readouterr().out
    assert snapshot(logdir) == before


def test_resume_of_a_damaged_run_folder_exits_2(logdir, capsys):
    (logdir / "old" / "done" / "config.json").write_text('{"config": {"lr"')
    before = snapshot(logdir)
    assert main(["run", "--resume", str(logdir / "old" / "done")]) == 2
    one_sentence(capsys, "config.json is damaged")
    assert snapshot(logdir) == before


def test_resume_with_a_corrupt_checkpoint_exits_2_in_one_whole_sentence(logdir, capsys):
    run_dir = _stopped_run(logdir)
    with open(os.path.join(run_dir, "checkpoint.pt"), "r+b") as f:
        f.truncate(1000)
    before = snapshot(logdir)
    assert main(["run", "--resume", run_dir]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt cannot be read (PytorchStreamReader failed reading zip archive" in err
    assert err.endswith("); start the run again instead of resuming.\n") and err.count("\n") == 1
    assert snapshot(logdir) == before
    assert read_run(run_dir).status == "stopped"


def test_resume_loses_no_recorded_epoch_when_the_checkpoint_is_gone(logdir, capsys):
    """The data-loss case: a run with recorded epochs and no checkpoint.pt used to start over
    at epoch 1 and empty metrics.jsonl at once. It is refused, finished or not, and nothing changes."""
    stopped = logdir / "old" / "stopped"
    shutil.copytree(logdir / "old" / "done", stopped)
    (stopped / "status.json").unlink()  # killed, with two epochs on record
    metrics = stopped / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + metrics.read_text().replace('"epoch": 1', '"epoch": 2'))
    for run_dir in (stopped, logdir / "old" / "done"):  # the finished one: "resume does nothing" holds
        (run_dir / "checkpoint.pt").unlink()
    before = snapshot(logdir)
    for run_dir, epochs in ((stopped, 2), (logdir / "old" / "done", 1)):
        assert main(["run", "--resume", str(run_dir)]) == 2
        one_sentence(capsys, f"{run_dir} records epochs up to {epochs} in metrics.jsonl but its checkpoint.pt "
                             "is missing, so resuming would lose recorded epochs; put the run's own "
                             "checkpoint.pt back, or start a new run.")
    assert snapshot(logdir) == before


def test_resume_refuses_a_checkpoint_older_than_the_epoch_it_could_redo(logdir, capsys):
    run_dir = _stopped_run(logdir)  # epoch 1 of 3
    old = (logdir / "old" / "stopped" / "checkpoint.pt").read_bytes()
    assert main(["run", "--resume", run_dir]) == 0  # epochs 2 and 3
    (logdir / "old" / "stopped" / "checkpoint.pt").write_bytes(old)
    capsys.readouterr()
    before = snapshot(logdir)
    assert main(["run", "--resume", run_dir]) == 2
    one_sentence(capsys, "records epochs up to 3 in metrics.jsonl but its checkpoint.pt holds epoch 1")
    assert snapshot(logdir) == before
    assert [r["epoch"] for r in read_run(run_dir).metrics] == [1, 2, 3]


def test_the_loser_of_two_resumes_exits_2_and_changes_nothing(logdir, capsys):
    """The other resume took the folder after this one's checks: the trainer refuses it, exit 2 too."""
    run_dir = _stopped_run(logdir)
    before = snapshot(logdir)
    with open(os.path.join(run_dir, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert main(["run", "--resume", run_dir]) == 2
    one_sentence(capsys, "is being written by another run right now", stream="out")
    assert snapshot(logdir) == before


# Valid JSON of the wrong shape, and rows a JSON reader turns into something that is not an epoch.
DAMAGE = [
    ("config.json", "[]", "config.json is damaged (it holds a JSON list, not an object)"),
    ("config.json", '{"config": [], "experiment": "old", "run": "done"}',
     "config.json is damaged (its 'config' is [], not a table of settings)"),
    ("config.json", '{"config": {"epochs": "many"}}',
     "config.json is damaged (its setting 'epochs' is \"many\", not a whole number of 1 or more)"),
    ("status.json", "[]", "status.json is damaged (it holds a JSON list, not an object)"),
    ("status.json", '{"status": 3}', "status.json is damaged (its 'status' is 3, not one of finished, stopped"),
    ("metrics.jsonl", '{"epoch": 1e400, "test_acc": 0.5}\n', "line 1 of"),
    ("metrics.jsonl", '{"epoch": 1, "test_acc": "high"}\n', "line 1 of"),
    ("metrics.jsonl", '[]\n{"epoch": 1, "test_acc": 0.5}\n', "line 1 of"),
]


@pytest.mark.parametrize("name, text, expected", DAMAGE, ids=[f"{n}:{t[:20]}" for n, t, _ in DAMAGE])
def test_a_malformed_record_is_refused_or_marked_by_name_never_a_traceback(logdir, capsys, name, text, expected):
    from tui.runview import Views

    run_dir = logdir / "old" / "done"
    (run_dir / name).write_text(text)
    before = snapshot(logdir)
    assert main(["run", "--resume", str(run_dir)]) == 2
    one_sentence(capsys, expected)
    info = read_run(run_dir)  # what compare, resume and the console read
    assert info.status == "damaged" and expected in info.message and str(run_dir) in info.message
    assert all(isinstance(m["epoch"], int) for m in info.metrics)
    view = Views().add_past(info)  # the console's table row and curves
    assert view.status == "damaged" and view.message == info.message
    assert main(["compare", str(run_dir)]) in (0, 2)  # shown as damaged, or nothing to compare
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "damaged" in out.out + out.err
    assert snapshot(logdir) == before


@pytest.mark.parametrize("option, name", [("--csv", "metrics.jsonl"), ("--csv", "config.json"),
                                          ("--markdown", "status.json"), ("--markdown", "checkpoint.pt")])
def test_compare_does_not_write_over_a_runs_record(logdir, capsys, option, name):
    run_dir = logdir / "old" / "done"
    before = snapshot(logdir)
    assert main(["compare", str(run_dir), option, str(run_dir / name)]) == 2
    one_sentence(capsys, f"{run_dir / name} is part of the record of the run in {run_dir}; "
                         "write the report to another file.")
    assert snapshot(logdir) == before


def test_an_archive_member_outside_the_folder_is_not_extracted(tmp_path, capsys):
    """A hostile archive (../ paths) with the right checksum unpacks nothing outside the data dir."""
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "payload").write_text("x")
    with tarfile.open(evil, "w:gz") as t:
        t.add(tmp_path / "payload", arcname="../escaped")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(evil, data / "cifar-10-python.tar.gz")
    md5 = hashlib.md5(evil.read_bytes()).hexdigest()
    assert main(["run", "--logdir", str(tmp_path / "logs"), "--data-dir", str(data), "--data-md5", md5,
                 "--set", "epochs=1"]) == 1
    one_sentence(capsys, "does not hold the CIFAR-10 batches", stream="out")
    assert not (tmp_path / "escaped").exists()
