"""The console driven headless with App.run_test and the Pilot."""
import json
from pathlib import Path

import pytest

from apphelp import (FAST, FakeClock, app_without_cifar, craft_run, drawn_lines, feed, fill, log_text, make_app,
                     open_past, ready, start_long_run, start_without_cifar, statuses, sync, type_into, wait_for)
from core.config import make_config
from core.lifecycle import train
from core.records import read_metrics, read_run
from textual.widgets import Select
from tui.formcheck import check
from tui.runview import smooth
from tui.screens.dialogs import PastRunsScreen
from tui.screens.help import HelpScreen
from tui.widgets.charts import MetricChart


pytestmark = pytest.mark.usefixtures("small_synthetic")


def test_smoothing_is_tensorboards_debiased_ema():
    # by hand: 0.4*1/0.4 = 1; (0.24+0)/0.64 = 0.375; 0.144/0.784
    assert smooth([1.0, 0.0, 0.0]) == [1.0, 0.375, 0.144 / 0.784]
    assert smooth([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0]  # debiased: no ramp from 0


def test_form_check_reports_every_bad_field_with_its_sentence():
    base = make_config({"dataset": "synthetic"})
    config, errors = check({"lr": "-1", "epochs": "ten", "momentum": "0.5", "seed": "4"}, base)
    assert config is None
    assert errors["lr"].startswith("lr: -1.0 is not allowed")
    assert errors["epochs"] == "epochs: 'ten' is not allowed; use a whole number."
    assert errors["momentum"].startswith("momentum: only SGD uses momentum")
    config, errors = check({"lr": "0.01", "optimizer": "sgd", "momentum": "0.5"}, base)
    assert errors == {} and config.lr == 0.01 and config.momentum == 0.5


@sync
async def test_choosing_a_preset_fills_the_form_and_lists_its_runs(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        assert app.side.preset.name == "quick-demo"  # the offline one is chosen first
        app.side.choose("ex2-regularization")
        await pilot.pause()
        form = app.side.form
        runs = app.side.query_one("#preset-run", Select)
        assert [str(o[0]) for o in runs._options if o[1] is not Select.NULL] == ["baseline", "l2", "l1", "dropout"]
        assert form.widget("dataset").value == "cifar10" and form.widget("epochs").value == "40"
        runs.value = "dropout"
        await pilot.pause()
        assert form.widget("regularizer").value == "dropout"
        assert app.side.run_name == "dropout" and not form.edited
        await pilot.press("p")  # previous preset
        await pilot.pause()
        assert app.side.preset.name == "ex1-normalization-augmentation"


@sync
async def test_bad_form_values_are_flagged_inline_and_start_refuses(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, lr="-1", batch_size="x")
        form = app.side.form
        lr_error = form.query_one("#error-lr")
        assert lr_error.display and "lr: -1.0 is not allowed" in str(lr_error.render())
        assert "batch_size: 'x' is not allowed; use a whole number." in str(form.query_one("#error-batch_size").render())
        assert form.widget("lr").has_class("-invalid")
        await pilot.press("s")
        await pilot.pause()
        assert len(app.views) == 0 and not app.running
        assert "Not started: lr: -1.0 is not allowed" in log_text(app)
        await type_into(pilot, app, "lr", "0.01")
        assert not form.query_one("#error-lr").display and not form.widget("lr").has_class("-invalid")
        assert "batch_size" in form.errors and "lr" not in form.errors
        assert app.side.run_name == "custom"  # an invalid form has no edits to name the run after
        await type_into(pilot, app, "batch_size", "64")
        assert app.side.run_name == "baseline+lr0.01+bs64"  # named after what was edited


@sync
async def test_quick_demo_epochs_arrive_in_the_table_and_the_charts(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await fill(pilot, app, epochs="2", **FAST)
        await pilot.press("a")  # the whole preset: both runs, with the form's edits (named after them)
        await wait_for(pilot, lambda: not app.running and len(app.views) == 2)
        chart = app.get_screen_main().query_one("#chart-test_acc", MetricChart)
        await wait_for(pilot, lambda: sum(len(x) for _, _, x, _ in chart.series) == 4)  # a chart refresh
        base, both = "baseline+frac0.5+ep2+cpu", "augmentation+normalization+frac0.5+ep2+cpu"
        assert statuses(app) == {base: "finished", both: "finished"}, log_text(app)
        table = app.table
        for view in app.views:
            row = table.get_row(view.key)
            assert str(row[1]) == "finished" and row[2] == "2/2"
            assert row[3] == f"{view.metrics[-1]['test_acc']:.3f}"
            best = max(view.metrics, key=lambda m: m["test_acc"])
            assert row[4] == f"{best['test_acc']:.3f} ({best['epoch']})"
            assert view.metrics == read_metrics(view.run_dir)  # the console shows what is on disk
        assert [(label, x) for label, _, x, _ in chart.series] == [(base, [1, 2]), (both, [1, 2])]
        baseline = next(iter(app.views))
        assert chart.series[0][3] == [m["test_acc"] for m in baseline.metrics]
        assert len({colour for _, colour, _, _ in chart.series}) == 2


@sync
async def test_stop_mid_run_keeps_finished_epochs(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_long_run(pilot, app)
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.running)
        (view,) = app.views
        assert view.status == "stopped" and 1 <= len(view.metrics) < 50
        status = json.loads(Path(view.run_dir, "status.json").read_text())
        assert status["status"] == "stopped" and status["epochs_done"] == len(view.metrics)
        assert len(read_metrics(view.run_dir)) == len(view.metrics)


@sync
async def test_quit_mid_run_stops_the_worker_then_exits(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_long_run(pilot, app)
        worker = app.training_worker
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None)
        assert worker.is_finished and app.return_code == 0
        assert "Stopping the run before quitting" in log_text(app)
    (view,) = app.views
    status = json.loads(Path(view.run_dir, "status.json").read_text())
    assert status["status"] == "stopped"


@sync
async def test_missing_cifar10_offers_the_synthetic_data_set(tmp_path):
    app = app_without_cifar(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_without_cifar(pilot, app)
        (failed,) = app.views
        assert failed.message.startswith("could not download CIFAR-10")
        assert failed.label == "baseline+ep1+cpu"  # the preset's run, named after the form's edits
        assert "baseline+ep1+cpu: failed — could not download CIFAR-10" in log_text(app)
        assert failed.status == "failed" and str(app.table.get_row(failed.key)[1]) == "failed (data)"
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.views) == 2 and not app.running)
        first, second = app.views
        assert (first.status, second.status) == ("failed", "finished"), log_text(app)
        assert second.config["dataset"] == "synthetic" and app.side.form.widget("dataset").value == "synthetic"


@sync
async def test_past_runs_can_be_opened_and_overlaid(tmp_path):
    logdir = tmp_path / "runs"
    config = make_config({"dataset": "synthetic", "epochs": 1, "train_fraction": 0.5, "device": "cpu"})
    ended = train(config, logdir=str(logdir), experiment="old", run="earlier")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "o")
        await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
        runs = app.screen.query_one("#past-runs")
        row = lambda: next((line for line in drawn_lines(runs) if "old/earlier" in line), "")  # noqa: E731
        await wait_for(pilot, row)
        assert "▐ ▌ old/earlier" in row()  # not selected: an empty box
        await pilot.press("space")
        await wait_for(pilot, lambda: "▐X▌ old/earlier" in row())
        await pilot.press("o")
        await wait_for(pilot, lambda: len(app.views) == 1)
        (view,) = app.views
        assert view.past and view.run_dir == ended.run_dir and view.status == "finished"
        assert view.metrics == read_metrics(ended.run_dir)
        await pilot.press("o")  # the opened run is not offered twice
        await wait_for(pilot, lambda: isinstance(app.screen, PastRunsScreen))
        assert not app.screen.runs


@sync
async def test_help_screen_and_palette_list_the_actions(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pilot.press("escape", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = dict((text, key) for key, text in app.screen.keys)
        assert keys["command palette"] == "ctrl+p"
        assert {k for k, _ in app.screen.keys} >= {"s", "a", "x", "c", "r", "n", "p", "m", "l", "o", "d", "b", "f",
                                                   "g", "t, escape", "?", "q"}
        assert "again: clear the queue too" in " ".join(keys) and "again: show it" in " ".join(keys)
        compare_keys = {k for k, text in app.screen.keys if text.startswith("compare screen")}
        assert {"b", "d", "n", "v", "escape, c"} <= compare_keys  # the compare screen's own keys too
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Start run", "Stop", "Toggle smoothing", "Toggle log y", "Open past runs", "Help"} <= titles


# ---- run identity, colours, sentences: plain Python ---------------------------------

def test_labels_are_the_run_folders_unique_on_screen(tmp_path):
    from tui.runview import Views

    (tmp_path / "demo" / "baseline").mkdir(parents=True)  # started once before, on disk
    views = Views(str(tmp_path))
    first = views.add("baseline", "demo")
    second = views.add("baseline", "demo")
    assert (first.label, second.label) == ("baseline-2", "baseline-3")  # queued: the folders they will get
    first.run_dir, first.status = str(tmp_path / "demo" / "baseline-2"), "running"
    (tmp_path / "demo" / "baseline-2").mkdir()
    views.relabel()
    assert (first.label, second.label) == ("baseline-2", "baseline-3")  # the same once one starts
    past = views.add_past(read_run(tmp_path / "demo" / "baseline"))
    other = views.add("baseline", "ex2")
    labels = [v.label for v in views]
    assert labels == ["demo/baseline-2", "demo/baseline-3", "demo/baseline (past)", "ex2/baseline"]
    assert len(set(labels)) == len(labels)
    views.remove(other.key)
    assert past.label == "baseline (past)"  # one experiment again: no prefix


def test_settings_that_differ_from_the_experiments_first_run():
    from tui.confdiff import changes, describe, run_name
    from tui.runview import Views

    base = make_config({"dataset": "synthetic"}).to_dict()
    sgd = make_config({"dataset": "synthetic", "optimizer": "sgd", "lr": 0.01}).to_dict()
    views = Views()
    a, b, c = (views.add("baseline", "x", config=base), views.add("sgd", "x", config=sgd),
               views.add("mine", "y", config=sgd))
    assert (a.settings, b.settings, c.settings) == ("", "sgd, lr 0.01", "")  # c: first of its experiment
    dropout = make_config({"regularizer": "dropout", "reg_strength": 0.5, "augment": True}).to_dict()
    plain = make_config({}).to_dict()
    assert describe(changes(plain, dropout)) == "augment, dropout, p 0.5"
    assert describe(changes(dropout, plain)) == "no augment, no regularizer"  # no strength without one
    assert run_name("baseline", changes(base, sgd)) == "baseline+sgd+lr0.01"
    assert run_name("baseline", []) == "baseline"
    long = run_name("b", changes(plain, dropout) * 20)  # a folder name stays one path component...
    assert len(long) <= 120 and long.endswith("+dropout+more")  # ...and never cuts an edit in half


def test_colours_go_to_runs_that_draw_and_stay_with_them():
    from tui.runview import PALETTE, Views

    assert not any(c in PALETTE for c in range(232, 256)) and not {7, 8, 15} & set(PALETTE)  # no greys
    assert len(set(PALETTE)) == len(PALETTE)
    views = Views()
    failed = views.add("never-started", "x", status="failed")
    a, b = views.add("a", "x"), views.add("b", "x")
    assert failed.colour is None and a.colour is None  # nothing drawn yet: no colour taken
    assert views.colour(b) == PALETTE[0] and views.colour(a) == PALETTE[1]  # in the order they draw
    b.overlay = False
    views.remove(failed.key)
    assert views.colour(b) == PALETTE[0] and views.colour(a) == PALETTE[1]  # for life


def test_console_sentences_name_its_keys_and_say_each_word_once():
    from core.advice import Advice, resume_advice
    from core.events import RunEnded
    from core.records import RunInfo
    from core.resume import resume_problem
    from tui.consolewords import CONSOLE_WORDS, for_console
    from tui.headless import ended_text

    run_dir = "/tmp/runs/demo/baseline-2"
    advice = resume_advice("stopped after 2 finished epoch(s)", run_dir)
    stopped = RunEnded("baseline", "stopped", advice.say(), 2, run_dir, advice=advice)
    assert stopped.message == f"stopped after 2 finished epoch(s); resume with cifar-tui run --resume {run_dir}."
    assert for_console(stopped) == "stopped after 2 finished epoch(s); resume with r on its row."
    assert ended_text("stopped", for_console(stopped)).count("stopped") == 1
    full = resume_advice("could not write the run's record (the disk is full)", run_dir, "free some space")
    assert full.say(CONSOLE_WORDS) == ("could not write the run's record (the disk is full); free some space, "
                                       "then resume with r on its row.")
    nothing = Advice("done", "already finished all 5 epochs; nothing to do", run_dir)
    assert nothing.say() == "already finished all 5 epochs; nothing to do (add epochs with --set epochs=N)."
    assert for_console(RunEnded("b", "finished", nothing.say(), 5, run_dir, advice=nothing)) == \
        "already finished all 5 epochs; nothing to do."
    assert for_console(RunEnded("b", "failed", "could not download CIFAR-10.")) == "could not download CIFAR-10."
    assert ended_text("finished", "finished 5 epochs.") == "finished 5 epochs."
    assert ended_text("finished", "already finished all 5 epochs; nothing to do (add epochs with --set epochs=N).") \
        .count("finished") == 1
    assert ended_text("failed", "could not download CIFAR-10.") == "failed — could not download CIFAR-10."
    finished = RunInfo(Path(run_dir), "demo", "baseline-2", status="finished", metrics=[{"epoch": 3}])
    assert resume_problem(finished) == f"{run_dir} already finished its 3 epochs; resume it with --set epochs=N " \
                                       "to train it longer."
    done = resume_problem(finished, CONSOLE_WORDS)
    assert done == f"{run_dir} already finished its 3 epochs; to train it longer, run cifar-tui run --resume " \
                   f"{run_dir} --set epochs=N in a shell."


def test_the_queue_hands_jobs_to_one_thread_at_a_time():
    import threading

    from core.job import Job
    from core.jobqueue import JobQueue

    config = make_config({"dataset": "synthetic"})
    job = lambda k: Job(key=k, name=k, experiment="x", config=config)  # noqa: E731
    queue = JobQueue()
    assert queue.put([job("a")]) is True     # no thread takes jobs: start one
    assert queue.put([job("b"), job("c")]) is False  # the thread will take these too
    assert queue.take().key == "a" and queue.current.key == "a"
    assert [j.key for j in queue.clear()] == ["b", "c"]
    assert queue.take() is None and queue.current is None  # empty: the thread ends...
    assert queue.put([job("d")]) is True     # ...and the next put starts another
    taken, lock = [], threading.Lock()

    def consume():
        while (j := queue.take()) is not None:
            with lock:
                taken.append(j.key)

    queue.put([job(f"j{i}") for i in range(50)])
    thread = threading.Thread(target=consume)
    thread.start()
    thread.join()
    assert taken == ["d"] + [f"j{i}" for i in range(50)]  # all of them, once, in order
    queue.put([job("e")])
    queue.take()
    queue.halt()
    assert queue.stop.is_set() and queue.training() == (queue.current, queue.stop) and queue.pending() == []


def test_eta_from_measured_epoch_times():
    from tui.eta import epoch_seconds, run_left

    assert epoch_seconds([], elapsed=3.0, batch=10, batches=40) == 12.0  # before any epoch ends
    assert epoch_seconds([], elapsed=0.0, batch=0, batches=40) is None
    rows = [{"seconds": s} for s in (100.0, 10.0, 12.0, 8.0, 10.0, 10.0)]
    assert epoch_seconds(rows, elapsed=1.0, batch=1, batches=40) == 10.0  # the latest five epochs
    assert run_left(10.0, elapsed=4.0, epochs_after=2) == 26.0
    assert run_left(10.0, elapsed=15.0, epochs_after=0) == 0.0  # a slow epoch: never negative


# ---- every key, checked by what it draws or stores ----------------------------------

def plot_rows(chart) -> list[str]:
    """The chart as drawn, without its title row (a title change alone must not count)."""
    return [line for line in drawn_lines(chart) if chart.title not in line]


async def redrawn(pilot, chart, before: list[str]) -> list[str]:
    """Wait for the chart's next drawing that differs from `before`."""
    await wait_for(pilot, lambda: plot_rows(chart) != before)
    return plot_rows(chart)


@sync
async def test_keys_change_what_the_charts_draw(tmp_path):
    logdir = tmp_path / "runs"
    paths = [craft_run(logdir, "study", "baseline", [2.0, 1.0, 0.5, 0.25]),
             craft_run(logdir, "study", "sgd", [2.0, 0.6, 0.3, 0.1], optimizer="sgd", lr=0.01),
             craft_run(logdir, "study", "flat", [2.3, 2.3, 2.3, 2.3], lr=1e-5)]
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        baseline, sgd, flat = open_past(app, paths)
        chart = app.get_screen_main().query_one("#chart-train_loss", MetricChart)
        await wait_for(pilot, lambda: len(chart.series) == 3)
        assert [label for label, *_ in chart.series] == ["baseline (past)", "sgd (past)", "flat (past)"]
        assert app.table.get_row(sgd.key)[5].plain == "sgd, lr 0.01"  # what differs from the first run
        await pilot.press("escape")
        plain = await redrawn(pilot, chart, [])

        await pilot.press("m")  # smoothing: the curves move
        smoothed = await redrawn(pilot, chart, plain)
        await pilot.press("m")
        assert await redrawn(pilot, chart, smoothed) == plain
        await pilot.press("l")  # log y: the curves and the axis change
        logged = await redrawn(pilot, chart, plain)
        await pilot.press("l")
        assert await redrawn(pilot, chart, logged) == plain
        assert "Smoothing on" in log_text(app) and "Log y on" in log_text(app)

        await pilot.press("t", "down", "d")  # hide the second row's run: its curve goes, its row stays
        await wait_for(pilot, lambda: len(chart.series) == 2)
        assert [label for label, *_ in chart.series] == ["baseline (past)", "flat (past)"]
        assert app.table.get_row(sgd.key)[0].plain.startswith("○ sgd")
        assert "sgd (past) is hidden from the charts" in log_text(app)
        await pilot.press("d")  # and back, in its own colour
        await wait_for(pilot, lambda: len(chart.series) == 3)
        assert chart.series[1][:2] == ("sgd (past)", sgd.colour)
        assert app.table.get_row(sgd.key)[0].plain.startswith("● sgd")
        assert "sgd (past) is drawn in the charts again" in log_text(app)

        await pilot.press("enter")  # the row's record and last message, in the log
        assert f"sgd (past) ({paths[1]}): finished 4 epochs.; differs from the first run: sgd, lr 0.01" \
            in log_text(app)

        await pilot.press("ctrl+p")  # the palette runs the same actions
        await pilot.press(*"Toggle smoothing", "enter")
        await redrawn(pilot, chart, plain)
        assert app.model.smoothing


@sync
async def test_panel_preset_and_focus_keys(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        form = app.side.form
        await pilot.press("escape", "n")  # the next preset fills the form with its first run
        await pilot.pause()
        preset = app.side.preset
        assert preset.name != "quick-demo" and form.widget("epochs").value == str(preset.runs[0][1].epochs)
        assert app.sub_title.startswith(preset.name)
        await pilot.press("p")
        await pilot.pause()
        assert app.side.preset.name == "quick-demo" and form.widget("epochs").value == "5"

        charts = app.charts
        narrow = charts.size.width
        await pilot.press("b")  # the side panel goes: the charts take its room
        await wait_for(pilot, lambda: charts.size.width > narrow)
        assert app.side.size.width == 0
        await pilot.press("b")
        await wait_for(pilot, lambda: charts.size.width == narrow)

        await pilot.press("f")  # before any edit: the first field
        assert app.focused is form.widget("dataset")
        await type_into(pilot, app, "lr", "0.01")
        await pilot.press("escape", "g")
        assert isinstance(app.focused, MetricChart)
        await pilot.press("t")
        assert app.focused is app.table
        await pilot.press("f")  # back where the last edit was
        assert app.focused is form.widget("lr")
        await pilot.pause()
        grounds = {str(label.render()): label.rich_style.bgcolor for label in form.query(".field-name")}
        assert [name for name, colour in grounds.items() if colour != grounds["dataset"]] == ["lr"]  # lit


@sync
async def test_unchecked_boxes_show_no_x(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        box = app.side.form.widget("augment")
        assert not box.value and "X" not in str(box.render()) and "off" in str(box.render())
        box.focus()
        await pilot.press("space")
        await pilot.pause()
        assert box.value and "X" in str(box.render()) and "on" in str(box.render())
        assert app.side.run_name == "baseline+aug"


@sync
async def test_time_live_loss_progress_and_sentences_follow_the_events(tmp_path):
    """Core's events handed in by hand with a clock the test moves: what the table, the
    progress line, the charts' input and the log then show."""
    from core.advice import resume_advice
    from core.events import BatchProgress, EpochDone, RunEnded, RunStarted
    from core.job import Job
    from tui.runview import PALETTE

    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: ready(app))
        config = make_config({"dataset": "synthetic", "epochs": 3})
        never = app.views.add("never", "demo", config=config.to_dict(), epochs=3)
        feed(app, never, RunEnded("never", "failed", "could not write", 0, "", "record"))
        view = app.views.add("baseline", "demo", config=config.to_dict(), epochs=3)
        app.queue.put([Job(key="later", name="later", experiment="demo", config=config.replace(epochs=2))])  # one run waits
        app.model.relabel()
        run_dir = str(tmp_path / "runs" / "demo" / "baseline-2")
        progress = app.get_screen_main().query_one("#progress")

        feed(app, view, RunStarted("baseline", "demo", run_dir, 3, 40, "cpu"))
        assert view.status == "running" and view.label == "baseline-2" and view.colour is None
        clock.now += 3
        feed(app, view, BatchProgress("baseline", 1, 10, 40, train_loss=2.25))
        assert view.live == (1, 2.25) and view.colour == PALETTE[0]  # the failed run took no colour
        app.redraw()
        # 10 of 40 batches in 3 s: 12 s an epoch; 9 s left of this one, 2 more; the queued run 2 x 12 s
        assert progress.text == "ep 1/3 baseline-2 ETA 0:33 · all 0:57"
        assert app.table.get_row(view.key)[9] == "0:03"
        assert app.charts.query_one("#chart-train_loss").series[0][0] == "baseline-2"

        clock.now += 9
        feed(app, view, BatchProgress("baseline", 1, 40, 40, phase="eval"))
        app.redraw()
        assert progress.text.startswith("ep 1/3 baseline-2 evaluating")
        clock.now += 2
        feed(app, view, EpochDone("baseline", 1, 3, {"epoch": 1, "train_loss": 2.0, "seconds": 13.5}))
        assert view.live is None
        clock.now += 6  # stopped 20 s after it started, 6 s into epoch 2
        advice = resume_advice("stopped after 1 finished epoch(s)", run_dir)  # as the trainer ends a stopped run
        feed(app, view, RunEnded("baseline", "stopped", advice.say(), 1, run_dir, advice=advice))
        app.redraw()
        assert app.table.get_row(view.key)[9] == "0:20"  # not back to the 13.5 s on record
        assert "baseline-2: stopped after 1 finished epoch(s); resume with r on its row." in log_text(app)
        assert progress.text.startswith("idle")

        clock.now += 100  # resumed later: the time goes on from 0:20
        feed(app, view, RunStarted("baseline", "demo", run_dir, 3, 40, "cpu", first_epoch=2))
        clock.now += 5
        app.redraw()
        assert app.table.get_row(view.key)[9] == "0:25"
        assert "baseline-2 (demo) resumed at epoch 2 on cpu." in log_text(app)


def test_help_texts_say_what_runs_without_a_command(capsys):
    from tui.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert "[COMMAND ...]" in top and "With no COMMAND, cifar-tui opens the console" in top
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "--logdir" not in capsys.readouterr().out  # bench writes no records
