"""Records nobody can subvert: record files are never followed through a link, readers create
nothing in a run folder, report outputs never land on a record file, every reader checks the
JSON it reads, and names from presets or records never reach Rich or the disk raw.

Each test works on real files (symlinks, hard links, malformed JSON) and checks that the
records are unchanged afterwards."""
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from apphelp import craft_run, log_text, make_app, sync, wait_for
from core.config import make_config
from core.data import synthetic
from core.events import RunEnded
from core.follow import Follower, FollowError, live_runs
from core.lifecycle import train
from core.recordio import RECORD_FILES
from core.records import _name_writer, read_run, take_lock, write_status
from core.resume import resumable_runs
from tui.cli import main
from tui.screens.dialogs import PastRunsScreen

SMALL = synthetic(200, 100)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two finished seeds of one run (2 epochs each, with checkpoints), made once, copied per test."""
    logdir = tmp_path_factory.mktemp("kept")
    config = make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 50, "device": "cpu",
                          "train_fraction": 1.0})
    for seed in (4, 5):
        ended = train(config.replace(seed=seed), logdir=str(logdir), experiment="exp", run=f"base-s{seed}",
                      group="base", dataset=SMALL)
        assert ended.status == "finished"
    return logdir


@pytest.fixture
def logdir(tmp_path, trained):
    shutil.copytree(trained, tmp_path / "logs", symlinks=True)
    return tmp_path / "logs"


def snapshot(folder) -> dict:
    """Every entry under `folder`: a file's hash, a link's target (never followed)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        key = str(p.relative_to(folder))
        if p.is_symlink():
            out[key] = "-> " + os.readlink(p)
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out


def one_sentence(capsys, expected) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert expected in captured.err, captured.err
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


# --- 1. links ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", RECORD_FILES)
def test_a_resume_refuses_a_record_file_that_is_a_symlink_and_writes_nothing_through_it(logdir, tmp_path, capsys,
                                                                                        name):
    """Each record file swapped for a symlink to a copy of itself: the copy would be what the
    writer changes (the lock truncated, metrics appended); the resume refuses instead, exit 2."""
    run_dir = logdir / "exp" / "base-s4"
    victim = tmp_path / f"victim-{name}"
    shutil.copyfile(run_dir / name, victim)
    (run_dir / name).unlink()
    (run_dir / name).symlink_to(victim)
    before, victim_bytes = snapshot(logdir), victim.read_bytes()
    assert main(["run", "--resume", str(run_dir), "--set", "epochs=3"]) == 2
    one_sentence(capsys, f"{run_dir / name} is a symbolic link, not a file of the run; remove that file")
    assert victim.read_bytes() == victim_bytes and snapshot(logdir) == before


def test_a_resume_refuses_a_lock_hard_linked_to_another_file(logdir, tmp_path, capsys):
    run_dir = logdir / "exp" / "base-s4"
    victim = tmp_path / "notes.txt"
    victim.write_text("someone's notes\n")
    (run_dir / ".lock").unlink()
    os.link(victim, run_dir / ".lock")
    before = snapshot(logdir)
    assert main(["run", "--resume", str(run_dir), "--set", "epochs=3"]) == 2
    one_sentence(capsys, ".lock has other hard links, so writing it would change another file")
    assert victim.read_text() == "someone's notes\n" and snapshot(logdir) == before


def test_a_trainer_given_a_folder_with_a_symlinked_lock_refuses_it(logdir, tmp_path):
    """The writer's own check (take_lock), for callers that skip the CLI's resume checks."""
    run_dir = logdir / "exp" / "base-s4"
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (run_dir / ".lock").unlink()
    (run_dir / ".lock").symlink_to(victim)
    config = make_config({"dataset": "synthetic", "epochs": 3, "batch_size": 50, "device": "cpu",
                          "train_fraction": 1.0})
    ended = train(config, resume_dir=str(run_dir), dataset=SMALL)
    assert ended.status == "failed" and ended.cause == "refused" and ".lock is a symbolic link" in ended.message
    assert victim.read_text() == "keep me"


def test_readers_create_no_file_in_a_run_folder_nor_a_dangling_links_target(logdir, tmp_path, capsys):
    """A run without .lock and one whose .lock points nowhere (their status removed, so readers
    ask whether a writer holds the lock): compare, resume checks, live runs and the Follower
    leave both folders exactly as they were."""
    s4, s5 = logdir / "exp" / "base-s4", logdir / "exp" / "base-s5"
    for run_dir in (s4, s5):
        (run_dir / "status.json").unlink()
        (run_dir / ".lock").unlink()
    target = tmp_path / "planted"
    (s5 / ".lock").symlink_to(target)
    before = snapshot(logdir)
    assert main(["compare", str(logdir / "exp")]) == 0
    capsys.readouterr()
    assert [info.path for info in resumable_runs(logdir)] == [s4]  # s5 is damaged: its lock is a link
    assert live_runs(logdir) == []
    assert read_run(s5).status == "damaged" and ".lock is a symbolic link" in read_run(s5).message
    Follower(s4).poll()
    with pytest.raises(FollowError, match=r"\.lock is a symbolic link"):
        Follower(s5)
    assert not target.exists() and not os.path.lexists(s4 / ".lock")
    assert snapshot(logdir) == before


@pytest.mark.parametrize("option, record, link", [
    ("--csv", "metrics.jsonl", os.link), ("--markdown", "progress.json", os.link),
    ("--markdown", "status.json", os.symlink), ("--csv", "config.json", os.symlink)])
def test_a_report_refuses_an_output_that_is_a_record_file_by_inode(logdir, tmp_path, capsys, option, record, link):
    """out.csv or out.md outside the run folder, but the same file as one of its records."""
    run_dir = logdir / "exp" / "base-s4"
    out = tmp_path / ("out.csv" if option == "--csv" else "out.md")
    link(run_dir / record, out)
    before = snapshot(logdir)
    assert main(["compare", str(logdir / "exp"), option, str(out), "--logdir", str(logdir)]) == 2
    one_sentence(capsys, f"{out} is {run_dir / record} (the same file), part of a run's record; "
                         "write the report to another file.")
    assert snapshot(logdir) == before


def test_the_csv_summary_files_are_checked_too(logdir, tmp_path, capsys):
    """--csv out.csv also writes out-summary.csv and out-groups.csv: each is checked."""
    run_dir = logdir / "exp" / "base-s5"
    os.link(run_dir / "metrics.jsonl", tmp_path / "out-groups.csv")
    before = snapshot(logdir)
    assert main(["compare", str(logdir / "exp"), "--csv", str(tmp_path / "out.csv")]) == 2
    one_sentence(capsys, f"{tmp_path / 'out-groups.csv'} is {run_dir / 'metrics.jsonl'} (the same file)")
    assert snapshot(logdir) == before and not (tmp_path / "out.csv").exists()


# --- 2. malformed JSON ----------------------------------------------------------------------

def _edit(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _progress(edit):
    def change(sample):
        return edit({**sample, "phase": "train", "epoch": 2, "batch": 1})
    return change


FOLLOW_DAMAGE = [  # (file, edit, the phrase the sentence must hold)
    ("progress.json", _progress(lambda s: {**s, "epoch": "x"}), "its 'epoch' is \"x\", not a whole number"),
    ("progress.json", _progress(lambda s: {**s, "epoch": None}), "its 'epoch' is null, not a whole number"),
    ("progress.json", _progress(lambda s: {k: v for k, v in s.items() if k != "batch"}), "it has no 'batch'"),
    ("status.json", lambda s: {**s, "epochs_done": "2"}, "its 'epochs_done' is \"2\", not a whole number"),
    ("status.json", lambda s: {**s, "epochs_done": None}, "its 'epochs_done' is null, not a whole number"),
]
CONFIG_DAMAGE = [
    (lambda m: {**m, "config": {**m["config"], "epochs": "4"}}, "its setting 'epochs' is \"4\", not a whole number"),
    (lambda m: {**m, "config": [m["config"]]}, "its 'config' is [{"),
    (lambda m: {**m, "train_images": "200"}, "its 'train_images' is \"200\", not a whole number"),
    (lambda m: {**m, "config": {**m["config"], "batch_size": 0}}, "its setting 'batch_size' is 0"),
]


@pytest.mark.parametrize("name, edit, phrase", FOLLOW_DAMAGE, ids=[p for _, _, p in FOLLOW_DAMAGE])
def test_the_follower_ends_a_malformed_record_as_damaged_in_one_sentence(logdir, name, edit, phrase):
    run_dir = logdir / "exp" / "base-s4"
    _edit(run_dir / name, edit)
    events = Follower(run_dir).poll()
    ended = events[-1]
    assert isinstance(ended, RunEnded) and ended.status == "damaged" and ended.cause == "damaged"
    assert ended.message.startswith(f"{run_dir / name} is damaged ({phrase}")
    assert ended.message.endswith("it is followed no more: repair that file, or remove the run folder.")


@pytest.mark.parametrize("edit, phrase", CONFIG_DAMAGE, ids=[p for _, p in CONFIG_DAMAGE])
def test_a_malformed_config_is_one_sentence_for_every_reader(logdir, capsys, edit, phrase):
    run_dir = logdir / "exp" / "base-s4"
    _edit(run_dir / "config.json", edit)
    before = snapshot(logdir)
    with pytest.raises(FollowError, match="the run cannot be followed"):
        Follower(run_dir)
    info = read_run(run_dir)
    assert info.status == "damaged" and f"{run_dir / 'config.json'} is damaged ({phrase}" in info.message
    assert main(["run", "--resume", str(run_dir), "--set", "epochs=3"]) == 2
    one_sentence(capsys, f"config.json is damaged ({phrase}")
    assert main(["compare", str(logdir / "exp")]) == 0  # the other seed compares; this one shows damaged
    assert "Traceback" not in capsys.readouterr().err
    assert snapshot(logdir) == before


def squeezed(text: str) -> str:
    """Without spaces: the log pane wraps long paths anywhere."""
    return "".join(text.split())


def _live(path):
    """Make `path` look written right now by this process (its lock held, naming us)."""
    (path / "status.json").unlink()
    lock = take_lock(path)
    _name_writer(lock)
    return lock


@sync
async def test_the_console_following_a_malformed_progress_file_shows_damaged_and_stays_up(tmp_path):
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "busy", [1.0, 0.9])
    (path / "progress.json").write_text(json.dumps({"epoch": None, "batch": 1, "batches": 3, "phase": "train"}))
    lock = _live(path)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")
            await wait_for(pilot, lambda: len(app.views) == 1 and next(iter(app.views)).status == "damaged")
            assert squeezed(f"{path / 'progress.json'} is damaged (its 'epoch' is null") in squeezed(log_text(app))
            await pilot.press("question_mark")  # still answering keys
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
    finally:
        lock.close()


@sync
async def test_the_console_refuses_to_follow_a_malformed_config_in_one_line(tmp_path):
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "busy", [1.0])
    _edit(path / "config.json", lambda m: {**m, "config": [1]})
    lock = _live(path)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")
            await wait_for(pilot, lambda: "Not followed:" in log_text(app))
            assert squeezed(f"{path / 'config.json'} is damaged (its 'config' is [1]") in squeezed(log_text(app))
            assert app.is_running
    finally:
        lock.close()


@sync
async def test_the_console_follows_a_run_with_a_setting_it_does_not_know_to_its_end(tmp_path):
    """A record from a later version (an extra setting): followed, ended, and the console stays up."""
    logdir = tmp_path / "runs"
    path = craft_run(logdir, "exp", "newer", [1.0, 0.9])
    _edit(path / "config.json", lambda m: {**m, "config": {**m["config"], "warmup": 3}})
    lock = _live(path)
    app = make_app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
            await pilot.press("o")
            await wait_for(pilot, lambda: len(app.views) == 1)
            write_status(path, "finished", "finished 2 epochs.", 2)
            await wait_for(pilot, lambda: next(iter(app.views)).status == "finished")
            assert app.is_running and len(next(iter(app.views)).metrics) == 2
    finally:
        lock.close()


def test_the_console_exits_non_zero_when_the_app_crashes(tmp_path, monkeypatch):
    """Whatever the cause, a crash (Textual prints its traceback) is not exit 0."""
    from tui import app as app_module

    def crash(self):
        raise RuntimeError("a bug")

    real_run = app_module.CifarApp.run
    monkeypatch.setattr(app_module.CifarApp, "on_mount", crash)
    monkeypatch.setattr(app_module.CifarApp, "run", lambda self, **kw: real_run(self, headless=True, **kw))
    assert app_module.run_console(logdir=str(tmp_path / "runs")) == 1


# --- 3. NaN and Infinity in compare ---------------------------------------------------------

@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_a_seed_with_a_non_finite_last_row_is_left_out_as_diverged(logdir, capsys, bad):
    path = logdir / "exp" / "base-s5" / "metrics.jsonl"
    rows = path.read_text().splitlines()
    rows[-1] = json.dumps({**json.loads(rows[-1]), "test_acc": float(bad)})  # written as NaN, Infinity...
    assert bad in rows[-1]
    path.write_text("\n".join(rows) + "\n")
    before = snapshot(logdir)
    assert main(["compare", str(logdir / "exp")]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "1 of its 2 runs left out: base-s5 (diverged: NaN or infinite values in its last epoch)" in \
        " ".join(out.out.split())
    assert snapshot(logdir) == before


# --- 4, 5. names ------------------------------------------------------------------------------

def test_preset_run_names_are_cleaned_before_printing_or_storing(tmp_path, capfd):
    """Markup, a path out of the log dir and a terminal escape, as run names of a preset."""
    preset = tmp_path / "odd.toml"
    preset.write_text('[settings]\ndataset = "synthetic"\nepochs = 1\ntrain_fraction = 0.02\ndevice = "cpu"\n'
                      'batch_size = 100\n[[runs]]\nname = "x[/]y"\n[[runs]]\nname = "../../evil"\n'
                      '[[runs]]\nname = "a\\u001b[31mred"\n')
    logdir = tmp_path / "logs"
    assert main(["run", str(preset), "--logdir", str(logdir)]) == 0
    out = capfd.readouterr()
    assert "Traceback" not in out.out + out.err and "\x1b[31m" not in out.out
    assert sorted(p.name for p in (logdir / "odd").iterdir() if p.is_dir()) == ["a-31mred", "evil", "x-y"]
    assert sorted(os.listdir(tmp_path)) == ["logs", "odd.toml"]  # nothing written outside the log dir
    for folder in (p for p in (logdir / "odd").iterdir() if p.is_dir()):  # beside them: the study's record
        meta = json.loads((folder / "config.json").read_text())
        assert meta["run"] == meta["group"] == folder.name
    assert main(["run", str(preset), "--run", "x[/]y", "--logdir", str(tmp_path / "again")]) == 0
    assert [p.name for p in (tmp_path / "again" / "odd").iterdir() if p.is_dir()] == ["x-y"]


def test_a_recorded_name_with_markup_compares_without_a_markup_error(logdir, capsys):
    """A record written before names were cleaned (or edited by hand)."""
    for seed in (4, 5):
        _edit(logdir / "exp" / f"base-s{seed}" / "config.json", lambda m: {**m, "group": "x[/]y\x1b[2J"})
    assert main(["compare", str(logdir / "exp")]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "\x1b[2J" not in out.out
    assert "x-y-2J" in out.out


# --- 9. what a record with nothing usable is called -------------------------------------------

def _status(path: Path, **values) -> None:
    _edit(path / "status.json", lambda s: {**s, **values})


def test_compare_of_runs_that_all_diverged_says_they_diverged(logdir, capsys):
    for seed in (4, 5):
        run_dir = logdir / "exp" / f"base-s{seed}"
        (run_dir / "metrics.jsonl").write_text("")
        _status(run_dir, status="diverged", epochs_done=0,
                message="diverged at epoch 1: the loss became NaN or infinite; lower the learning rate (lr).")
    assert main(["compare", str(logdir / "exp")]) == 2
    err = one_sentence(capsys, "nothing to compare: every run diverged before its first epoch ended "
                               "(base-s4, base-s5); start them again with a lower learning rate (lr).")
    assert "empty" not in err


def test_a_metrics_file_of_only_damaged_lines_is_called_damaged_not_empty(logdir, capsys):
    for seed in (4, 5):
        (logdir / "exp" / f"base-s{seed}" / "metrics.jsonl").write_text('garbage\n{"x": 1}\n')
    assert main(["compare", str(logdir / "exp")]) == 2
    err = one_sentence(capsys, "nothing to compare in base-s4, base-s5: 2 of the 2 runs have a damaged record, "
                               f"e.g. line 1 of {logdir / 'exp' / 'base-s4' / 'metrics.jsonl'} is damaged")
    assert "empty" not in err


def test_a_finished_run_with_a_torn_last_line_is_damaged_and_resume_says_so(logdir, capsys):
    run_dir = logdir / "exp" / "base-s4"
    path = run_dir / "metrics.jsonl"
    path.write_bytes(path.read_bytes()[:-20])  # the last epoch's line cut short
    before = snapshot(logdir)
    info = read_run(run_dir)
    assert info.status == "damaged" and len(info.metrics) == 1
    assert info.message == (f"the last line of {path} is torn, so it records 1 epoch(s) but "
                            f"{run_dir / 'status.json'} says 2 finished; repair that file, or remove the run folder.")
    assert main(["run", "--resume", str(run_dir)]) == 2
    err = one_sentence(capsys, info.message)
    assert "already finished" not in err
    assert main(["compare", str(run_dir)]) == 0  # the epoch it has, and the note under the table
    assert squeezed(f"base-s4: {info.message}") in squeezed(capsys.readouterr().out)
    assert snapshot(logdir) == before
