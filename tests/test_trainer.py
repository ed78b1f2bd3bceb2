import json
import threading

import pytest
import torch

from core.config import make_config
from core.data import synthetic
from core.events import BatchProgress, EpochDone, RunEnded, RunStarted
from core.lifecycle import train
from core.records import TAGS, read_metrics, read_run

SMALL = synthetic(600, 200)


def cfg(**kw):
    return make_config({"dataset": "synthetic", "epochs": 2, "batch_size": 100, "device": "cpu", "train_fraction": 1.0, **kw})


def run(tmp_path, config, **kw):
    events = []
    end = train(config, events.append, logdir=str(tmp_path), experiment="exp", run="r",
                dataset=kw.pop("dataset", SMALL), **kw)
    return end, events


def test_events_in_order_and_records_written(tmp_path):
    end, events = run(tmp_path, cfg())
    assert isinstance(events[0], RunStarted) and events[0].batches == 6 and events[0].epochs == 2
    assert isinstance(events[-1], RunEnded) and end == events[-1] and end.status == "finished"
    assert [e.epoch for e in events if isinstance(e, EpochDone)] == [1, 2]
    assert any(isinstance(e, BatchProgress) and e.batch == 6 for e in events)
    rows = read_metrics(end.run_dir)
    assert [r["epoch"] for r in rows] == [1, 2]
    for row, e in zip(rows, [e for e in events if isinstance(e, EpochDone)]):
        assert row == e.metrics
        assert {"train_loss", "train_acc", "test_loss", "test_acc", "seconds"} <= set(row)
    meta = json.loads((tmp_path / "exp" / "r" / "config.json").read_text())
    assert meta["config"]["epochs"] == 2 and meta["experiment"] == "exp" and meta["run"] == "r"
    assert read_run(end.run_dir).status == "finished"
    assert (tmp_path / "exp" / "r" / "checkpoint.pt").is_file()


def test_seconds_and_time_are_each_epochs_own_wall_time(tmp_path):
    """Bracketed by the events around each epoch, timed here: `seconds` is no more than the time
    since the previous epoch ended (not the run's total) and no less than its batches took;
    `time` is the wall clock when the epoch ended."""
    import time

    seen = []  # (event, perf_counter, time) as each event arrives (events are emitted synchronously)
    end = train(cfg(epochs=3), lambda e: seen.append((e, time.perf_counter(), time.time())), logdir=str(tmp_path),
                experiment="exp", run="r", dataset=SMALL)
    assert end.status == "finished"
    rows = read_metrics(end.run_dir)
    previous = seen[0][1]  # RunStarted: the first epoch starts after it
    for row in rows:
        epoch = row["epoch"]
        batches = [(t, wall) for e, t, wall in seen if isinstance(e, BatchProgress) and e.epoch == epoch]
        done_t, done_wall = next((t, wall) for e, t, wall in seen if isinstance(e, EpochDone) and e.epoch == epoch)
        assert batches[-1][0] - batches[0][0] <= row["seconds"] <= done_t - previous, epoch
        assert batches[-1][1] <= row["time"] <= done_wall
        previous = done_t


def test_test_metrics_are_the_saved_models_on_the_test_set(tmp_path):
    """Recomputed here with a plain forward pass of the checkpointed model (epoch 2)."""
    import torch.nn.functional as F

    from core.model import build_model

    config = cfg()
    end, _ = run(tmp_path, config)
    model = build_model(config)
    model.load_state_dict(torch.load(tmp_path / "exp" / "r" / "checkpoint.pt", weights_only=False)["model"])
    model.eval()
    with torch.no_grad():
        logits = model(SMALL.test_x.float() / 255)
    row = read_metrics(end.run_dir)[-1]
    assert row["test_acc"] == (logits.argmax(1) == SMALL.test_y).sum().item() / 200
    assert row["test_loss"] == pytest.approx(F.cross_entropy(logits, SMALL.test_y).item(), rel=1e-5)


def test_accuracy_is_an_exact_fraction_of_the_test_set(tmp_path):
    end, _ = run(tmp_path, cfg())
    for row in read_metrics(end.run_dir):
        assert (row["test_acc"] * 200) == pytest.approx(round(row["test_acc"] * 200), abs=1e-6)


def read_tensorboard(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_has_the_studys_tags_with_the_logged_values(tmp_path):
    end, _ = run(tmp_path, cfg(regularizer="l2"))
    scalars = read_tensorboard(end.run_dir)
    assert set(scalars) == set(TAGS.values())
    for row in read_metrics(end.run_dir):
        for key, tag in TAGS.items():
            step, value = scalars[tag][row["epoch"] - 1]
            assert step == row["epoch"] and value == pytest.approx(row[key], rel=1e-6)


def test_penalty_logged_apart_from_the_cross_entropy(tmp_path):
    end, _ = run(tmp_path, cfg(regularizer="l1", reg_strength=1e-3))
    row = read_metrics(end.run_dir)[0]
    assert row["penalty"] > 0 and row["train_loss"] < 2.5  # cross-entropy alone stays near ln 10
    plain, _ = run(tmp_path, cfg())
    assert "penalty" not in read_metrics(plain.run_dir)[0]


def test_same_seed_same_curves_bit_for_bit(tmp_path):
    a, _ = run(tmp_path, cfg(augment=True, regularizer="dropout"))
    b, _ = run(tmp_path, cfg(augment=True, regularizer="dropout"))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "time")} for r in rows]
    assert strip(read_metrics(a.run_dir)) == strip(read_metrics(b.run_dir))
    c, _ = run(tmp_path, cfg(augment=True, regularizer="dropout", seed=5))
    assert strip(read_metrics(c.run_dir)) != strip(read_metrics(a.run_dir))


def test_a_taken_run_name_gets_a_new_folder(tmp_path):
    a, _ = run(tmp_path, cfg(epochs=1))
    b, _ = run(tmp_path, cfg(epochs=1))
    assert a.run_dir != b.run_dir and b.run_dir.endswith("r-2")
    assert len(read_metrics(a.run_dir)) == 1 and len(read_metrics(b.run_dir)) == 1


def test_stop_flag_ends_the_run_within_a_batch_and_keeps_finished_epochs(tmp_path):
    stop = threading.Event()
    seen = []

    def on_event(e):
        seen.append(e)
        if isinstance(e, EpochDone):
            stop.set()

    end = train(cfg(epochs=5), on_event, stop, logdir=str(tmp_path), run="s", dataset=SMALL)
    assert end.status == "stopped" and end.epochs_done == 1 and "--resume" in end.message
    assert not any(isinstance(e, BatchProgress) and e.epoch == 2 for e in seen)
    assert [r["epoch"] for r in read_metrics(end.run_dir)] == [1]
    assert read_run(end.run_dir).status == "stopped"


def test_resume_continues_and_matches_an_uninterrupted_run(tmp_path):
    full, _ = run(tmp_path, cfg(epochs=3, augment=True))
    stop = threading.Event()
    part = train(cfg(epochs=3, augment=True), lambda e: isinstance(e, EpochDone) and e.epoch == 2 and stop.set(),
                 stop, logdir=str(tmp_path), experiment="exp", run="p", dataset=SMALL)
    assert part.status == "stopped" and part.epochs_done == 2
    resumed = train(cfg(epochs=3, augment=True), logdir=str(tmp_path), run="p", dataset=SMALL,
                    resume_dir=part.run_dir)
    assert resumed.status == "finished" and resumed.run_dir == part.run_dir
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "time")} for r in rows]
    assert strip(read_metrics(part.run_dir)) == strip(read_metrics(full.run_dir))
    steps = read_tensorboard(part.run_dir)["Loss_CIFAR10/test"]
    assert [s for s, _ in steps] == [1, 2, 3]


def test_non_finite_loss_is_diverged(tmp_path):
    end, _ = run(tmp_path, cfg(optimizer="sgd", lr=1e6, epochs=3))
    assert end.status == "diverged" and "lower the learning rate" in end.message
    assert read_run(end.run_dir).status == "diverged"


def test_missing_data_fails_with_the_message_and_no_run_folder(tmp_path):
    config = make_config({"data_dir": str(tmp_path / "nodata"), "epochs": 1, "device": "cpu"})
    end = train(config, logdir=str(tmp_path / "logs"), data_url="http://127.0.0.1:9/none.tar.gz")
    assert end.status == "failed" and "could not download" in end.message and end.cause == "data"
    assert not (tmp_path / "logs").exists()


def test_unwritable_logdir_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    end = train(cfg(), logdir=str(blocker), dataset=SMALL)
    assert end.status == "failed" and "--logdir" in end.message and end.cause == "record"


def test_trains_on_cifar_format_files(tmp_path, cifar_dir):
    config = make_config({"data_dir": cifar_dir, "epochs": 1, "batch_size": 50, "device": "cpu",
                          "train_fraction": 1.0, "normalize": True})
    end = train(config, logdir=str(tmp_path))
    assert end.status == "finished"
    meta = json.loads((tmp_path / "custom" / "run" / "config.json").read_text())
    assert (meta["train_images"], meta["test_images"]) == (200, 100)


def test_records_are_readable_by_others(tmp_path):
    end, _ = run(tmp_path, cfg(epochs=1))
    for name in ("config.json", "status.json", "checkpoint.pt", "metrics.jsonl"):
        assert (tmp_path / "exp" / "r" / name).stat().st_mode & 0o044 == 0o044, name


def test_progress_carries_the_epochs_running_loss_and_says_when_it_evaluates(tmp_path):
    end, events = run(tmp_path, cfg(epochs=1))
    progress = [e for e in events if isinstance(e, BatchProgress)]
    last_train = [e for e in progress if e.phase == "train"][-1]
    assert last_train.batch == 6
    # at the epoch's last batch the running mean is the epoch's train loss (same sum, same count)
    assert last_train.train_loss == pytest.approx(read_metrics(end.run_dir)[0]["train_loss"], rel=1e-5)
    evaluating = [i for i, e in enumerate(events) if isinstance(e, BatchProgress) and e.phase == "eval"]
    done = next(i for i, e in enumerate(events) if isinstance(e, EpochDone))
    assert len(evaluating) == 1 and events.index(last_train) < evaluating[0] < done
