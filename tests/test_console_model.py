"""The console's model driven without Textual: a fake clock, a recording screen, core's events
handed in by hand. What the rows, the log, the ETA and the queue then hold."""
from __future__ import annotations

import subprocess
import sys

from core.config import make_config
from core.events import BatchProgress, EpochDone, RunEnded, RunNote, RunStarted
from core.job import Job
from tui.consolemodel import ConsoleModel
from tui.recipes import Recipe
from tui.runview import PALETTE


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Screen:
    """What the model asks the app to draw, recorded."""

    def __init__(self):
        self.lines, self.refusals, self.rows, self.dropped, self.idles = [], [], [], [], 0

    def log_line(self, text):
        self.lines.append(text)

    def refused(self, reason):
        self.refusals.append(reason)

    def show_row(self, view):
        self.rows.append(view.key)

    def drop_row(self, key):
        self.dropped.append(key)

    def progress_idle(self):
        self.idles += 1


def model_of(tmp_path, **kwargs):
    screen, clock = Screen(), FakeClock()
    return ConsoleModel(str(tmp_path / "runs"), screen, clock, **kwargs), screen, clock


def config(**values):
    return make_config({"dataset": "synthetic", "epochs": 3, **values})


def start(model, *names, **values) -> list:
    """Queue runs as `s` would; the first is taken as the training thread would take it."""
    jobs = [(Job(name=n, config=config(**values)), Recipe(n, config(**values), config(**values))) for n in names]
    model.launch("demo", jobs)
    return [model.views.get(job.key) for job in model.queue.pending()]


def test_the_model_needs_no_textual():
    code = "import sys, tui.consolemodel; print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'plotext'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_eta_of_the_run_and_the_queue_from_the_clock_and_the_epochs_queued(tmp_path):
    model, screen, clock = model_of(tmp_path)
    (running,) = start(model, "baseline", train_fraction=0.5)
    model.queue.take()
    quarter = config(train_fraction=0.25, epochs=2)  # half the data of the running run: half its epoch time
    smaller = model.views.add("smaller", "demo", config=quarter.to_dict(), epochs=2)
    resumed = model.views.add("old", "demo", config=config(train_fraction=0.5).to_dict(), epochs=3,
                              metrics=[{"epoch": 1, "train_loss": 2.0, "seconds": 9.0}])
    model.enqueue([Job(key=smaller.key, name="smaller", experiment="demo", config=quarter),
                   Job(key=resumed.key, name="old", experiment="demo", config=config(train_fraction=0.5),
                       resume_dir="somewhere")])

    model.apply(running.key, RunStarted("baseline", "demo", str(tmp_path / "runs/demo/baseline"), 3, 40, "cpu"))
    clock.now += 3
    model.apply(running.key, BatchProgress("baseline", 1, 10, 40, train_loss=2.25))
    # 10 of 40 batches in 3 s: 12 s an epoch; 9 s left of this one and 2 more: 33 s. Then 2 epochs
    # at 6 s (half the data) and the resumed run's 2 epochs left at 12 s: 12 + 24 more
    assert model.progress_line() == ("baseline", 1, 3, 10, 40, False, 33.0, 69.0)
    assert model.progress_line() is None  # drawn: nothing new since

    clock.now += 10
    model.apply(running.key, EpochDone("baseline", 1, 3, {"epoch": 1, "train_loss": 2.0, "seconds": 10.0}))
    clock.now += 4
    model.apply(running.key, BatchProgress("baseline", 2, 20, 40))
    # measured now: 10 s an epoch, 4 s into epoch 2: 6 + 10 left; 2 x 5 s and 2 x 10 s queued
    assert model.progress_line() == ("baseline", 2, 3, 20, 40, False, 16.0, 46.0)
    model.queue.clear()
    model.apply(running.key, BatchProgress("baseline", 2, 21, 40))
    assert model.progress_line()[-2:] == (16.0, None)  # nothing queued: no total


def test_a_followed_run_has_no_queue_behind_it(tmp_path):
    model, screen, clock = model_of(tmp_path, follows=lambda key: key == "r1")
    followed, _ = start(model, "theirs", "ours")
    model.apply(followed.key, RunStarted("theirs", "demo", "x", 3, 40, "cpu"))
    clock.now += 5
    model.apply(followed.key, BatchProgress("theirs", 1, 20, 40))
    assert model.progress_line()[-2:] == (25.0, None)


def test_states_time_column_and_end_sentences_follow_the_events(tmp_path):
    from core.advice import resume_advice

    model, screen, clock = model_of(tmp_path)
    (view,) = start(model, "baseline")
    model.queue.take()
    run_dir = str(tmp_path / "runs" / "demo" / "baseline")
    model.apply(view.key, RunStarted("baseline", "demo", run_dir, 3, 40, "cpu", precision="fp32"))
    assert (view.status, view.run_dir, view.config["precision"]) == ("running", run_dir, "fp32")
    assert screen.lines[-1] == "[b]baseline[/] (demo) started on cpu."
    clock.now += 12
    model.apply(view.key, EpochDone("baseline", 1, 3, {"epoch": 1, "train_loss": 2.0, "seconds": 11.0}))
    assert view.colour == PALETTE[0] and view.elapsed == 12.0 and model.take_charts()
    clock.now += 3
    model.tick_all()
    assert view.elapsed == 15.0 and screen.rows[-1] == view.key

    model.apply(view.key, RunNote("baseline", "retried on node n2 (n1 was lost)"))
    assert screen.lines[-1] == "[b]baseline[/]: retried on node n2 (n1 was lost)" and screen.rows[-1] == view.key
    clock.now += 5
    advice = resume_advice("stopped after 1 finished epoch(s)", run_dir)  # as the trainer ends a stopped run
    model.apply(view.key, RunEnded("baseline", "stopped", advice.say(), 1, run_dir, advice=advice))
    said = "stopped after 1 finished epoch(s); resume with r on its row."  # the console's key, not the shell's
    assert (view.status, view.message, view.elapsed) == ("stopped", said, 20.0)
    assert screen.lines[-1] == f"[b]baseline[/]: [yellow]{said}[/]"
    assert screen.idles == 1 and not model.timing
    clock.now += 100  # resumed later: the time goes on from 0:20, not from the 11 s on record
    model.apply(view.key, RunStarted("baseline", "demo", run_dir, 3, 40, "cpu", first_epoch=2))
    clock.now += 5
    model.tick_all()
    assert view.elapsed == 25.0 and view.metrics[0]["epoch"] == 1
    assert screen.lines[-1] == "[b]baseline[/] (demo) resumed at epoch 2 on cpu."


def test_the_training_thread_ending_marks_what_it_left_without_an_end(tmp_path):
    model, screen, clock = model_of(tmp_path)
    done, running, dropped, waiting = start(model, "done", "running", "dropped", "waiting")
    for view in (done, running):
        model.queue.take()
        model.apply(view.key, RunStarted(view.name, "demo", "", 3, 40, "cpu"))
    model.apply(done.key, RunEnded("done", "finished", "finished 3 epochs.", 3))
    pending = model.queue.clear()
    model.queue.put([job for job in pending if job.key == waiting.key])
    model.training_ended(RuntimeError("a bug"), latest=False)  # an earlier thread: only its bug is said
    assert screen.lines[-1] == "[red]internal error in the training thread:[/] RuntimeError: a bug"
    assert running.status == "failed" and model.active

    model.training_ended(None, latest=True)
    statuses = {v.name: v.status for v in model.views}
    assert statuses == {"done": "finished", "running": "failed", "dropped": "skipped", "waiting": "queued"}
    assert not model.active and not model.timing and model.take_charts()


def test_x_stops_the_run_and_x_again_clears_the_queue(tmp_path):
    model, screen, _ = model_of(tmp_path)
    model.stop_here()
    model.stop_here(following=True)
    assert screen.lines == ["Nothing is running.", "Nothing is running here; to stop a run followed live, "
                            "select its row (t, ↑↓), then x."]

    first, second, third = start(model, "a", "b", "c")
    model.queue.take()
    stop = model.queue.stop
    model.stop_here()
    assert stop.is_set() and screen.lines[-1] == (
        "Stopping a (this console) at the end of this batch… 2 runs still queued: x again clears the queue too.")
    model.stop_here()
    assert screen.lines[-1] == "Cleared the queue (2 runs not started)."
    assert screen.dropped == [second.key, third.key] and [v.name for v in model.views] == ["a"]
    model.stop_here()
    assert screen.lines[-1] == "Nothing else was queued."

    start(model, "d")  # new work: the next x is a first x again
    assert not model.stop_pressed
    model.told("d (a worker process; the others go on)", False)
    assert screen.lines[-1] == ("Stopping d (a worker process; the others go on) at the end of this batch… "
                                "1 run still queued: x again clears the queue too.")


def test_x_on_a_queued_row_takes_only_that_run_off_the_queue(tmp_path):
    model, screen, _ = model_of(tmp_path)
    running, first, second = start(model, "a", "b", "c")
    model.queue.take()
    assert not model.take_off(running.key) and not model.take_off(None)  # not queued: x stops it instead
    assert model.take_off(first.key)
    assert screen.lines[-1] == "Took b off the queue; it will not start."
    assert [j.key for j in model.queue.pending()] == [second.key] and list(model.views) == [running, second]
    assert screen.dropped == [first.key] and not model.queue.stop.is_set()


def test_X_stops_the_whole_study_and_says_what_it_stopped(tmp_path):
    model, screen, _ = model_of(tmp_path, follows=lambda key: key == "r4")
    running, queued, waiting = start(model, "a", "b", "c")
    model.queue.take()
    model.apply(running.key, RunStarted("a", "demo", "", 3, 40, "cpu"))
    followed = model.views.add("theirs", "demo", status="running", followed=True)
    assert followed.key == "r4" and model.counts() == (1, 2)  # the followed run is not this console's
    assert model.which(1) == "1 run train here: select the one to stop (t, ↑↓), then x; X stops them all."
    assert model.which(0) == "No run has started yet; X stops everything this console trains."
    model.stop_study()
    assert screen.lines[-1] == ("Stopping the whole study here: 1 running run stops at the end of this batch; "
                                "2 queued runs will not start.")
    assert model.queue.stop.is_set() and model.queue.pending() == [] and model.stop_pressed
    assert [v.name for v in model.views] == ["a", "theirs"]
    model.training_ended(None, latest=True)
    model.stop_study(following=True)  # the question was open while the queue ended
    assert screen.lines[-1] == ("Nothing is running here; to stop a run followed live, select its row "
                                "(t, ↑↓), then X.")
    assert model.which(0) == "Nothing is running."


def test_q_while_training_stops_the_queue_and_waits_and_refuses_starts(tmp_path):
    model, screen, _ = model_of(tmp_path)
    assert model.quit() is True and not screen.lines  # nothing trains: exit at once
    start(model, "a", "b")
    model.queue.take()
    assert model.quit() is False and model.queue.stop.is_set() and model.queue.pending() == []
    assert screen.lines[-1] == "Stopping the run before quitting (the finished epochs are kept)…"
    assert model.quit() is False and screen.lines[-1] == "Still waiting for the trainer to finish its batch…"
    assert model.refuse(None) and screen.refusals == ["the console is quitting."]


def test_missing_cifar_offers_its_runs_and_the_queued_ones_again_on_synthetic_data(tmp_path):
    model, screen, _ = model_of(tmp_path)
    failed, queued = start(model, "baseline", "l2", dataset="cifar10")
    model.queue.take()
    model.apply(failed.key, RunEnded("baseline", "failed", "CIFAR-10 is missing.", 0, "", "data"))
    model.queue.clear()  # as the training thread does: the rest would fail alike
    assert model.queue.take() is None
    model.training_ended(None, latest=True)
    assert model.data_failure[0] == "CIFAR-10 is missing." and queued.status == "skipped"
    ((experiment, jobs),) = model.synthetic_reruns()
    assert experiment == "demo"
    assert [(job.name, job.config.dataset) for job, _ in jobs] == [("baseline+synthetic", "synthetic"),
                                                                    ("l2+synthetic", "synthetic")]
    model.launch(experiment, jobs)  # a new queue: the offer is spent
    assert model.data_failure is None


def test_toggles_and_hiding_say_what_changed(tmp_path):
    model, screen, _ = model_of(tmp_path)
    model.toggle("smoothing")
    model.toggle("log_y")
    model.toggle("seeds_shown")
    model.toggle("seeds_shown")
    assert screen.lines == ["Smoothing on (EMA 0.6).", "Log y on.", "Each seed drawn on its own.",
                            "Groups of seeds drawn as their mean and min–max spread."]
    assert (model.smoothing, model.log_y, model.seeds_shown) == (True, True, False)
    model.hide(None)
    (view,) = start(model, "a")
    view.colour = PALETTE[0]
    model.hide(view.key)
    assert screen.lines[-2:] == ["No run in the table to hide.",
                                 "[b]a[/] is hidden from the charts (○); d again shows it."]
    assert model.drawn() == []
    model.hide(view.key)
    assert model.drawn() == [view]


def test_r_queues_a_failed_record_and_refuses_what_cannot_carry_on_in_the_consoles_words(tmp_path):
    from apphelp import craft_run
    from core.records import read_run

    model, screen, _ = model_of(tmp_path)
    logdir = tmp_path / "runs"
    failed = model.views.add_past(read_run(craft_run(logdir, "demo", "broke", [], status="failed", epochs=2)))
    finished = model.views.add_past(read_run(craft_run(logdir, "demo", "done", [2.0, 1.5])))
    kept = model.views.add_past(read_run(craft_run(logdir, "demo", "kept", [2.0, 1.5], status="stopped")))
    (queued,) = start(model, "waiting")
    assert model.unresumable(queued) == "waiting is queued; it cannot be resumed."
    assert model.unresumable(model.views.add("never", "demo", status="skipped")) == (
        "never has no record to resume (it never started); start it again (s).")

    assert model.resume(finished) is False
    assert model.resume(kept) is False
    assert screen.refusals == [
        f"{finished.run_dir} already finished its 2 epochs; to train it longer, run cifar-tui run --resume "
        f"{finished.run_dir} --set epochs=N in a shell.",
        f"{kept.run_dir} records epochs up to 2 in metrics.jsonl but its checkpoint.pt is missing, so resuming "
        "would lose recorded epochs; put the run's own checkpoint.pt back, or start a new run."]
    assert model.resume(failed) is False  # a thread takes jobs already (the queued run's): no second one
    assert (failed.status, failed.past, failed.label) == ("queued", False, "broke")
    job = model.queue.pending()[-1]
    assert (job.key, job.resume_dir, job.name, job.config.epochs) == (failed.key, failed.run_dir, "broke", 2)
    assert screen.lines[-2:] == ["Resuming [b]broke[/] (0 epoch(s) on record).", "Queued broke (1 run ahead)."]


def test_a_start_its_study_record_refuses_queues_nothing(tmp_path):
    planned = []

    def plan(experiment, jobs):  # as tui.studyresume.record answers when study.json cannot be written
        planned.append((experiment, [job.name for job in jobs]))
        return None

    model, screen, _ = model_of(tmp_path, plan=plan)
    assert start(model, "a", "b") == [] and model.queue.pending() == []
    assert planned == [("demo", ["a", "b"])] and not model.active
