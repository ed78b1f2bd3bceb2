"""The Textual console: bindings, actions and the trainer worker.

One training thread takes runs from a queue (core.jobqueue) that the app appends to
while it trains; a new thread starts when the queue had run dry. It hands core's
events to the app with `post_message` and never touches a widget; the app updates
the table as events arrive and redraws the charts and the progress line from a
timer, so a burst of events costs one redraw.
"""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from core.config import ConfigError, RunConfig
from core.drain import data_missing, drain
from core.events import BatchProgress, EpochDone, RunEnded, RunNote, RunStarted
from core.executor import Executor, ThreadExecutor
from core.job import Job
from core.jobqueue import JobQueue
from core.presets import load_all
from core.records import RecordError, list_runs, read_run
from core.resume import resumable_runs, resume_config, resume_problem
from tui import studyresume
from tui.following import FollowFound, Following
from tui.manyruns import ManyRuns
from tui.headless import ended_text
from tui.messages import TrainerEvent
from tui.recipes import Recipe, again, plan, trained
from tui.runview import RunView, Views
from tui.stopping import Stopping
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import DataMissingScreen, PastRunsScreen
from tui.screens.help import HelpScreen, key_rows
from tui.screens.main import MainScreen
from tui.screens.queue import QueueScreen
from tui.widgets.charts import ChartGrid, MetricChart
from tui.widgets.fullchart import RangedChart
from tui.widgets.progress import EpochProgress, epoch_seconds, run_left
from tui.widgets.runs_table import RunsTable
from tui.widgets.side_panel import SidePanel

CHART_REFRESH_S = 0.3  # charts redraw at most this often
DEFAULT_PRESET = "quick-demo"  # offline and quick: the friendliest first choice
# a hung-up terminal (SIGHUP) or a kill (SIGTERM) quits the way `q` does: Textual leaves both
# to Python's default, which would end the process mid-batch with the run's status 'running'
QUIT_SIGNALS = [s for s in (getattr(signal, n, None) for n in ("SIGHUP", "SIGTERM")) if s]
HANG_UP_GRACE_S = 10.0  # after a hang-up and the run's clean stop, how long the app may take to exit


class CifarApp(App):
    TITLE = "cifar-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("a", "start_all", "Start all"),
        Binding("x", "stop", "Stop"),
        Binding("X", "stop_all", "Stop all", show=False),
        Binding("c", "compare", "Compare"),
        Binding("w", "report", "Report", show=False),
        Binding("r", "resume", "Resume", show=False),
        Binding("n", "preset(1)", "Next preset", show=False),
        Binding("p", "preset(-1)", "Prev preset", show=False),
        Binding("m", "toggle_smoothing", "Smooth"),
        Binding("l", "toggle_log_y", "Log y"),
        Binding("e", "toggle_seeds", "Each seed", show=False),
        Binding("o", "open_runs", "Open runs", show=False),
        Binding("d", "hide_run", "Hide run", show=False),
        Binding("b", "toggle_panel", "Panel", show=False),
        Binding("u", "queue", "Queue", show=False),
        Binding("slash", "filter", "Filter", show=False),
        Binding("G", "group", "Group by", show=False),
        Binding("z", "fold", "Fold finished", show=False),
        Binding("f", "focus('form')", "Focus form", show=False),
        Binding("g", "focus('charts')", "Focus charts", show=False),
        Binding("t", "focus('runs')", "Focus table", show=False),
        Binding("escape", "focus('runs')", "Leave form", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]
    # (action, palette title, help text) for the palette and the help screen
    ACTIONS = (
        ("start", "Start run", "start the run in the form (edited: named after the edits, e.g. "
         "baseline+lr0.01); while a run trains it is queued"),
        ("start_all", "Start all runs of the preset", "start every run of the preset, with the form's edits "
         "(each named after them, as s names a run; queued behind a run in progress)"),
        ("stop", "Stop", "stop the selected run within one batch, wherever it trains (finished epochs are kept; "
         "its writer goes on with its queue); on a queued run: take it off the queue; again: clear the queue too"),
        ("stop_all", "Stop all", "after a y/n question: stop the selected followed run's whole process, "
         "else everything this console trains (the queue too)"),
        ("compare", "Compare runs", "the runs on screen side by side: sort, pick the charts' runs, "
         "see where test loss starts rising"),
        ("report", "Write report", "the report of the runs on screen: report.html with the figures, verdicts, "
         "settings and environment, report.md, figures/ and CSVs, in reports/EXPERIMENT"),
        ("resume", "Resume run", "carry on the table's stopped/interrupted/failed run, queued if one trains; "
         "on another row, finish its experiment's study (resume the rest, start the runs that never began); "
         "no run there: choose one under the log dir"),
        ("preset(1)", "Next preset", "choose the next preset"),
        ("preset(-1)", "Previous preset", "choose the previous preset"),
        ("toggle_smoothing", "Toggle smoothing", "smooth the curves (TensorBoard's EMA, weight 0.6)"),
        ("toggle_log_y", "Toggle log y", "logarithmic y axis"),
        ("toggle_seeds", "Toggle each seed", "a group of seeds is drawn as its mean and min–max spread; "
         "e: each seed on its own instead, e again: the groups"),
        ("open_runs", "Open past runs", "overlay runs recorded under the log dir"),
        ("hide_run", "Hide run", "hide the table's selected run from the charts (○ in the table); "
         "again: show it"),
        ("toggle_panel", "Toggle side panel", "hide the presets and form: more room for the charts"),
        ("queue", "Queue", "every running, queued and followed run: where it trains (this console, worker k, "
         "another process, a Ray node), a progress bar each, and the study's time left"),
        ("filter", "Filter runs", "show only the runs that match, in the table and the charts: lr=0.01, adam, "
         "finished, !finished, epochs>=20, part of a name (several words: all must match)"),
        ("group", "Group table", "group the table by a setting; again: the next setting that differs, then none"),
        ("fold", "Fold finished runs", "fold the finished runs of the table into one line (per group); again: show them"),
        ("focus('form')", "Focus form", "move to the run form (to the field edited last)"),
        ("focus('charts')", "Focus charts", "move to the charts"),
        ("focus('runs')", "Focus table", "move to the runs table"),
        ("help", "Help", "this screen"),
        ("quit", "Quit", "quit (a running run is stopped cleanly first)"),
    )

    def __init__(self, logdir: str = "runs", data_dir: str | None = None, data_url: str | None = None,
                 data_md5: str | None = None, clock=time.monotonic, on_hangup: str = "keep",
                 executor: Executor | None = None) -> None:
        super().__init__()
        self.logdir, self.data_url, self.data_md5 = logdir, data_url, data_md5
        # where the queue's runs train (core.placement.make_executor); default: one by one, here
        self.executor = executor or ThreadExecutor(logdir, data_url, data_md5)
        self.on_hangup = on_hangup  # keep: a hung-up console trains its queue to the end; stop: stops it
        self.following = Following(self)
        self.many = ManyRuns(self)  # filter, grouping, folding, the queue and full-screen chart screens
        self.stopping = Stopping(self)  # what x and X stop
        self.clock = clock
        base = RunConfig(data_dir=data_dir) if data_dir else None
        self.presets, self.preset_errors = load_all(base)
        self.views = Views(logdir)
        self.smoothing = False
        self.log_y = False
        self.seeds_shown = False  # `e`: each seed of a group drawn on its own
        self.queue = JobQueue()
        self._trained = threading.Event()  # the training thread has returned (set while none runs)
        self._trained.set()
        self._worker: Worker | None = None
        # per running run (trained or followed): [clock when it started here, its time column then,
        # clock when its current epoch began]
        self._timing: dict[str, list[float]] = {}
        self._stop_pressed = False  # x was pressed since the queue last got work: x again clears it
        self._quitting = False
        self._active = False
        self._charts_dirty = False
        self._progress: dict = {}  # the latest batch progress per run key: (view, event), not yet drawn
        self._data_failure: tuple[str, list[tuple[Job, Recipe | None]]] | None = None  # (message, jobs to rerun)
        self.signalled: int | None = None  # the quit signal received, if any
        self._hung_up = False
        self._keep_training = False  # hung up while training: train the queue to its end, then exit 0
        self._input_pipe: int | None = None  # after a hang-up: the write end of the stand-in stdin

    # ---- set-up -------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        names = [p.name for p in self.presets]
        return MainScreen(self.presets, DEFAULT_PRESET if DEFAULT_PRESET in names else "")

    def on_mount(self) -> None:
        self.call_after_refresh(self._startup)
        if not self.is_headless:  # tests drive the handler directly, not the test runner's signals
            for signum in QUIT_SIGNALS:
                signal.signal(signum, self._on_signal)

    def on_unmount(self) -> None:
        """However the app ends, a training thread still running stops within a batch (the
        process waits for it), so its records end 'stopped' rather than 'running'."""
        self.queue.halt()
        self.following.close()

    def _startup(self) -> None:
        """Once the main screen is composed."""
        self.set_interval(CHART_REFRESH_S, self._refresh_charts)
        self._q(EpochProgress).idle()
        for error in self.preset_errors:
            self.log_line(f"[red]broken preset:[/] {escape(error)}")
        self.log_line("Pick a preset, then [b]s[/] starts its run, [b]a[/] all its runs; [b]?[/] help.")
        self.following.start()
        self._offer_live()

    def _offer_live(self) -> None:
        """Runs under the log dir that other processes write now: offer to follow them."""
        live = self.following.live()
        if not live:
            return
        self.log_line(f"{len(live)} run{'s' * (len(live) > 1)} under {escape(self.logdir)} "
                      f"{'are' if len(live) > 1 else 'is'} training in another process; o follows "
                      f"{'them' if len(live) > 1 else 'it'} live.")

        def chosen(paths: list | None) -> None:
            for path in paths or []:
                self.following.add(path)

        self.push_screen(PastRunsScreen([info for info, _ in live], self.logdir, preselect=True,
                                        title=f"Training now under {self.logdir}: follow live?"), chosen)

    @property
    def side(self) -> SidePanel:
        return self._q(SidePanel)

    def get_screen_main(self) -> MainScreen:
        return self.screen_stack[0]

    def _q(self, selector, kind=None):
        return self.get_screen_main().query_one(selector, kind)

    @property
    def table(self) -> RunsTable:
        return self._q(RunsTable)

    @property
    def charts(self) -> ChartGrid:
        return self._q(ChartGrid)

    @property
    def running(self) -> bool:
        """A queue is training, as far as the app has seen: true from start until the worker's
        end has been handled (after every event it posted)."""
        return self._active

    def log_line(self, text: str) -> None:
        """Write Rich markup to the log pane; callers escape what they did not write."""
        self._q("#log").write(text)

    # ---- starting and stopping -------------------------------------------
    def action_start(self) -> None:
        config = self.side.form.validate()
        if self._refuse(config is None and self._form_reason()):
            return
        self._launch(self._experiment(), plan([self.side.recipe(config)], self.side.form.seeds()))

    def action_start_all(self) -> None:
        preset = self.side.preset
        if preset is None or self._refuse(self.side.form.validate() is None and self._form_reason()):
            return
        overrides = self.side.form.overrides()
        try:  # each run named after the edits, as `s` names it
            recipes = [Recipe(name, config, config.replace(**overrides)) for name, config in preset.runs]
        except ConfigError as e:
            self._refuse(f"the form's changes do not fit every run of {preset.name}: {e}")
            return
        self._launch(preset.name, plan(recipes, self.side.form.seeds()))

    def _form_reason(self) -> str:
        errors = self.side.form.errors  # in form order
        if not errors:
            return "the form has an invalid value."
        more = len(errors) - 1
        return next(iter(errors.values())) + (f" (and {more} more field{'s' * (more > 1)} marked in the form)" if more else "")

    def _refuse(self, reason) -> bool:
        """Say why a start cannot happen; True if it cannot."""
        if not reason and self._quitting:
            reason = "the console is quitting."
        if not reason:
            return False
        self.log_line(f"[red]Not started:[/] {escape(str(reason))}")
        self.notify(str(reason), title="Not started", severity="error", markup=False)  # names paths as text
        return True

    def _experiment(self) -> str:
        return self.side.preset.name if self.side.preset else "custom"

    def _launch(self, experiment: str, jobs: list[tuple[Job, Recipe]]) -> None:
        """Queue `jobs`, each in a row named by the folder it will get; a seed its group has
        finished on screen already is not trained again (the log says so)."""
        queued, done = [], []
        for job, recipe in jobs:
            if (twin := trained(job, experiment, self.views)) is not None:
                done.append(f"{twin.label} (seed {job.config.seed})")
                continue
            view = self.views.add(job.name, experiment, config=job.config.to_dict(), epochs=job.config.epochs,
                                  group=job.group or "", recipe=recipe)
            queued.append(Job(key=view.key, name=job.name, experiment=experiment, config=job.config, group=job.group,
                              folder=view.folder))
        if done:
            self.log_line(f"Trained already, not queued again: {escape(', '.join(done))}.")
        if (queued := studyresume.record(self, experiment, queued)) is None:  # into study.json
            return
        self._relabel()
        self._enqueue(queued)

    def _enqueue(self, jobs: list[Job]) -> None:
        """Queue `jobs` behind the run in progress, or start a training thread for them."""
        ahead = len(self.queue.pending()) + (self.queue.current is not None)
        self._stop_pressed = False
        if ahead and jobs:
            names = ", ".join(escape(self.views.get(j.key).label) for j in jobs)
            self.log_line(f"Queued {names} ({ahead} run{'s' * (ahead > 1)} ahead).")
        if self.queue.put(jobs):
            self._trained = threading.Event()
            self._data_failure = None
            self._active = True
            self._worker = self._train(self._trained)
        self._mark_charts()

    @work(thread=True, exit_on_error=False, group="training", description="training")
    def _train(self, trained: threading.Event) -> None:
        """Trains the queue (core.drain: here one run at a time, placed in rounds) until it is
        empty; talks to the app only through post_message."""
        try:
            drain(self.queue, self.executor, lambda key, event: self.post_message(TrainerEvent(key, event)))
        finally:
            trained.set()

    @property
    def placed(self) -> bool:
        """Runs train elsewhere (worker processes, Ray tasks), not in the console's thread."""
        return not self.executor.here

    def action_stop(self) -> None:
        self.stopping.one(self.table.selected_key)

    def action_stop_all(self) -> None:
        self.stopping.ask_all(self.table.selected_key)

    def _clear_queue(self) -> int:
        """Drop the runs not started yet (rows too); how many."""
        dropped = self.queue.clear()
        for job in dropped:
            self.views.remove(job.key)
            self.table.drop(job.key)
        if dropped:
            self._relabel()
        return len(dropped)

    async def action_quit(self) -> None:
        if not self.running:
            self.exit()
            return
        if self._quitting:
            self.log_line("Still waiting for the trainer to finish its batch…")
            return
        self._quitting = True
        self.queue.halt()
        self.log_line("Stopping the run before quitting (the finished epochs are kept)…")

    def _on_signal(self, signum: int, _frame) -> None:
        """SIGHUP/SIGTERM (main thread, between two steps of the event loop): quit as `q` does;
        a hang-up while training (on_hangup keep) lets go of the terminal and trains on instead."""
        hang_up = signum == getattr(signal, "SIGHUP", None)
        keep = hang_up and self.on_hangup == "keep" and self.running and not self._quitting
        if not keep:
            self.queue.halt()  # first of all: the records end right even if the UI cannot go on
        if hang_up and not self._hung_up and not self.is_headless:
            self._hung_up = True
            self._input_pipe = detach_terminal()  # before Textual's next read or write on the dead terminal
            threading.Thread(target=self._exit_after_hang_up, daemon=True).start()
        if keep:
            self._keep_training = True  # exits 0 once the queue is done; its runs' locks name this process
            asyncio.get_running_loop().call_soon_threadsafe(
                self.call_next, self.log_line,
                "[yellow]SIGHUP received:[/] training the queue to its end, then exiting.")
            return
        first = self.signalled is None
        self.signalled = self.signalled or signum
        if first:  # call_soon_threadsafe wakes the event loop (from its own thread, too)
            asyncio.get_running_loop().call_soon_threadsafe(self.call_next, self.quit_on_signal)

    def _exit_after_hang_up(self) -> None:
        """Nobody is watching a hung-up console: once the run has stopped and its records are
        closed, make sure the process ends even if Textual got stuck on the dead terminal (its
        output thread may have failed before the handler ran)."""
        self._trained.wait()
        time.sleep(HANG_UP_GRACE_S)
        os._exit(128 + self.signalled if self.signalled else 0)

    async def quit_on_signal(self) -> None:
        self.log_line(f"[yellow]{signal.Signals(self.signalled).name} received:[/] quitting.")
        await self.action_quit()

    def exit(self, *args, **kwargs) -> None:
        if self._input_pipe is not None:  # EOF on the stand-in stdin: Textual's input thread ends
            os.close(self._input_pipe)
            self._input_pipe = None
        super().exit(*args, **kwargs)

    def panic(self, *renderables) -> None:
        """A hung-up terminal can make Textual's input thread fail before the SIGHUP handler has
        run; that is a quit, not a crash to print onto a terminal that is gone."""
        if self._hung_up:
            if not self._keep_training:
                self.call_next(self.action_quit)
            return
        super().panic(*renderables)

    # ---- resuming -----------------------------------------------------------
    def action_resume(self) -> None:
        """Resume the table's selected run; with none selected, offer the resumable runs."""
        if self._refuse(None):
            return
        key = self.table.selected_key
        view = self.views.get(key) if key else None
        if view is None:
            self._pick_resumable()
            return
        if studyresume.finish_row(self, view):  # not a run to resume: its study, when there is more to do
            return
        if view.status in ("queued", "running"):
            self._refuse(f"{view.label} is {view.status}; it cannot be resumed.")
            return
        if not view.run_dir:
            self._refuse(f"{view.label} has no record to resume (it never started); start it again (s).")
            return
        self._resume(view)

    def _pick_resumable(self) -> None:
        runs = resumable_runs(self.logdir)
        if not runs:
            if not studyresume.finish(self, Path(self.logdir, self._experiment())):  # the preset's study
                self.log_line("No run under the log dir can be resumed (none was stopped, killed or failed).")
            return

        def chosen(paths: list | None) -> None:
            if paths:
                view = self.views.add_past(read_run(paths[0])) or next(
                    v for v in self.views if v.run_dir == str(paths[0]))
                self._relabel()
                self._resume(view)

        self.push_screen(PastRunsScreen(runs, self.logdir, title="Resume which run?", single=True), chosen)

    def _resume(self, view: RunView) -> None:
        problem = resume_problem(read_run(view.run_dir), CONSOLE_WORDS)
        try:
            if problem:
                raise RecordError(problem)
            config, experiment, name = resume_config(view.run_dir)
        except (RecordError, ConfigError) as e:
            self._refuse(str(e))
            return
        view.status, view.message, view.cause, view.config = "queued", "", "", config.to_dict()
        view.past = False  # training here now
        self._relabel()
        self.log_line(f"Resuming [b]{escape(view.label)}[/] ({len(view.metrics)} epoch(s) on record).")
        self._enqueue([Job(key=view.key, name=name, experiment=experiment, config=config, resume_dir=view.run_dir)])

    # ---- compare ------------------------------------------------------------
    # the main screen's actions that make no sense over the compare screen (off its footer too)
    MAIN_ONLY = {"start", "start_all", "preset", "toggle_smoothing", "toggle_log_y", "open_runs",
                 "hide_run", "toggle_panel", "focus", "resume", "queue", "filter", "group", "fold"}

    def check_action(self, action: str, parameters) -> bool | None:
        if action in self.MAIN_ONLY and isinstance(self.screen, CompareScreen):
            return False
        return True

    def action_compare(self) -> None:
        if isinstance(self.screen, CompareScreen):
            return
        self.push_screen(CompareScreen(lambda: [v for v in self.views if v.run_dir], self._mark_charts,
                                       self._queue_seeds))

    def action_report(self) -> None:
        views = [v for v in self.views if v.run_dir]
        if not views:
            self.log_line("No recorded run on screen to report; open past runs (o) or train some first.")
            return
        self._write_report({str(Path(v.run_dir).resolve()): v.colour for v in views if v.colour is not None},
                           [Path(v.run_dir) for v in views])

    @work(thread=True, exit_on_error=False, group="report", exclusive=True, description="report")
    def _write_report(self, colours: dict, paths: list) -> None:
        """Off the UI thread: matplotlib and the figures take seconds."""
        from core.compare import CompareError
        from tui.studyreport import default_out, title_of, write_report

        title = title_of(paths)
        try:
            out = write_report(paths, default_out(title), title, run_colours=colours).out
            text = f"Report of {escape(title)} written: {escape(str(out / 'report.html'))}"
        except CompareError as e:
            text = f"[red]No report:[/] {escape(str(e))}"
        except OSError as e:
            text = f"[red]No report:[/] cannot write it ({escape(e.strerror or str(e))}); free some space or make reports/ writable."
        self.call_from_thread(self.log_line, text)

    def _queue_seeds(self, experiment: str, jobs: list[Job]) -> None:
        """The compare screen's `n`: more seeds of a group, through the queue `s` and `a` use."""
        if not self._refuse(False):
            self._launch(experiment, [(job, Recipe(job.group or job.name, job.config, job.config)) for job in jobs])

    # ---- trainer events ---------------------------------------------------
    def on_trainer_event(self, message: TrainerEvent) -> None:
        view = self.views.get(message.key)
        if view is None:
            return
        event = message.event
        self.many.on_event(view, event)
        if isinstance(event, RunEnded):
            self.following.forget(view)
        if isinstance(event, BatchProgress):  # drawn by the timer: every redraw costs the trainer GIL time
            self._progress.pop(view.key, None)  # to the end: the line shows the run that moved last
            self._progress[view.key] = (view, event)
            if event.train_loss is not None:  # the epoch's running loss: a partial segment in the charts
                self.views.colour(view)
                view.live = (event.epoch, event.train_loss)
                self._mark_charts()
            return
        if isinstance(event, RunStarted):
            self._tick(view)
            view.status, view.run_dir, view.epochs = "running", event.run_dir, event.epochs
            if event.precision:  # as recorded (auto resolved), so its group is the one compare finds
                view.config = {**view.config, "precision": event.precision}
            view.metrics = [m for m in view.metrics if m["epoch"] < event.first_epoch]  # as on disk now
            now = self.clock()
            self._timing[view.key] = [now, view.time, now]
            self._relabel()
            how = f"resumed at epoch {event.first_epoch}" if event.first_epoch > 1 else "started"
            where = "" if view.prefix else f" ({escape(event.experiment)})"
            self.log_line(f"[b]{escape(view.label)}[/]{where} {how} on {event.device}.")
        elif isinstance(event, EpochDone):
            self.views.colour(view)
            view.metrics.append(event.metrics)
            view.live = None
            if view.key in self._timing:
                self._timing[view.key][2] = self.clock()
            self._tick(view)
            self._mark_charts()
        elif isinstance(event, RunNote):
            self.log_line(f"[b]{escape(view.label)}[/]: {escape(event.message)}")
        elif isinstance(event, RunEnded):
            self._ended(view, event)
        self.table.show(view)

    def on_follow_found(self, message: FollowFound) -> None:
        self.following.found(message)

    def _tick(self, view: RunView) -> None:
        """The running run's time column: its time when it started here, plus the time since."""
        if view.key in self._timing:
            started, base, _ = self._timing[view.key]
            view.elapsed = max(view.elapsed, base + self.clock() - started)

    def _ended(self, view: RunView, event: RunEnded) -> None:
        self._tick(view)
        view.status, view.cause = event.status, event.cause
        view.run_dir = event.run_dir or view.run_dir
        view.message = for_console(event)
        view.live = None
        self._progress.pop(view.key, None)
        if self._timing.pop(view.key, None) is not None and not self._timing:
            self._q(EpochProgress).idle()
        self._relabel()
        style = {"finished": "green", "stopped": "yellow"}.get(event.status, "red")
        self.log_line(f"[b]{escape(view.label)}[/]: [{style}]{escape(ended_text(event.status, view.message))}[/]")
        config = RunConfig(**view.config) if view.config else None
        if config is not None and data_missing(config, event):
            rerun = [(Job(key=v.key, name=v.name, experiment=v.experiment, config=RunConfig(**v.config),
                          group=v.group or None), v.recipe)
                     for v in self.views if v.key == view.key or v.status == "queued"]
            self._data_failure = (event.message, rerun)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "following" and event.state == WorkerState.ERROR:  # a bug: say so, keep the app up
            error = event.worker.error
            self.log_line(f"[red]internal error while following runs:[/] {type(error).__name__}: {escape(str(error))}")
        if event.worker.group != "training" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if event.state == WorkerState.ERROR:  # a bug in the trainer: say so, keep the app up
            error = event.worker.error
            self.log_line(f"[red]internal error in the training thread:[/] {type(error).__name__}: {escape(str(error))}")
            for view in self.views:
                if view.key in self._timing and not self.following.follows(view.key):
                    view.status = "failed"
                    self.table.show(view)
        if event.worker is not self._worker:  # an earlier thread; a newer one trains the queue
            return
        for view in self.views:  # what the thread left without an end (followed runs are not its)
            if self.following.follows(view.key):
                continue
            self._timing.pop(view.key, None)
            if view.status == "running" or (view.status == "queued" and not self._in_queue(view.key)):
                view.status = "skipped" if view.status == "queued" else "failed"
                self.table.show(view)
        self._active = False
        self._stop_pressed = False
        self._q(EpochProgress).idle()
        self._mark_charts()
        if self._quitting or self._keep_training:
            self.exit()
        elif self._data_failure:
            self._offer_synthetic(*self._data_failure)

    def _in_queue(self, key: str) -> bool:
        return any(job.key == key for job in self.queue.pending())

    def _offer_synthetic(self, message: str, jobs: list[tuple[Job, Recipe | None]]) -> None:
        def answer(use_synthetic: bool | None) -> None:
            if not use_synthetic:
                self.log_line("Put CIFAR-10 into the data folder, or set dataset to synthetic in the form.")
                return
            self.side.form.widget("dataset").value = "synthetic"
            self.log_line("Running again on the synthetic data set.")
            for experiment in dict.fromkeys(j.experiment for j, _ in jobs):  # named as `s` would name them
                self._launch(experiment, [again(j, recipe or Recipe(j.group or j.name, j.config, j.config),
                                                dataset="synthetic") for j, recipe in jobs if j.experiment == experiment])

        self.push_screen(DataMissingScreen(message), answer)

    # ---- charts and table ---------------------------------------------------
    def _mark_charts(self) -> None:
        self._charts_dirty = True

    def _refresh_charts(self) -> None:
        """Timer: redraw the charts if anything changed; tick the running run's time."""
        try:
            self._refresh_views()
        except NoMatches:  # shutting down: the widgets are gone
            pass

    def _refresh_views(self) -> None:
        if self._progress:  # the line shows one run: the one that moved last
            _, (view, event) = self._progress.popitem()
            self._progress.clear()
            left, all_left = self._eta(view, event)
            all_left = self.many.study_left() or all_left  # several at once: the study's, as u shows it
            self._q(EpochProgress).advance(view.label, event.epoch, view.epochs, event.batch, event.batches,
                                           event.phase == "eval", left, all_left)
        for key in list(self._timing):
            if view := self.views.get(key):
                self._tick(view)
                self.table.show(view)
        if not self._charts_dirty:
            return
        self._charts_dirty = False
        self.charts.show(self.drawn(), self.smoothing, self.log_y, self.seeds_shown)

    def drawn(self) -> list[RunView]:
        """The runs the charts draw: not hidden, past the `/` filter, and with something to draw (a colour)."""
        return [v for v in self.views if v.overlay and v.colour is not None and self.many.shown(v)]

    def _relabel(self) -> None:
        """Runs came, went or started: every row's label and settings may change."""
        self.views.relabel()
        for view in self.views:
            self.table.show(view)
        self._mark_charts()

    def _eta(self, view: RunView, event: BatchProgress) -> tuple[float | None, float | None]:
        """Seconds left in the running run and in the whole queue (None: unknown / nothing queued),
        from the epoch times measured so far."""
        elapsed = self.clock() - self._timing.get(view.key, [0.0, 0.0, self.clock()])[2]
        epoch_s = epoch_seconds(view.metrics, elapsed, event.batch, event.batches)
        if epoch_s is None:
            return None, None
        left = run_left(epoch_s, elapsed, view.epochs - event.epoch)
        pending = [] if self.following.follows(view.key) else self.queue.pending()
        if not pending:
            return left, None
        here = view.config
        total = left
        for job in pending:  # a run with a smaller share of the same data trains faster
            same = job.config.dataset == here.get("dataset") and here.get("train_fraction")
            scale = job.config.train_fraction / here["train_fraction"] if same else 1.0
            done = len(self.views.get(job.key).metrics) if job.resume_dir else 0
            total += epoch_s * scale * max(job.config.epochs - done, 0)
        return left, total

    def action_toggle_smoothing(self) -> None:
        self.smoothing = not self.smoothing
        self.log_line(f"Smoothing {'on (EMA 0.6)' if self.smoothing else 'off'}.")
        self._mark_charts()

    def action_toggle_log_y(self) -> None:
        self.log_y = not self.log_y
        self.log_line(f"Log y {'on' if self.log_y else 'off'}.")
        self._mark_charts()

    def action_toggle_seeds(self) -> None:
        self.seeds_shown = not self.seeds_shown
        self.log_line("Each seed drawn on its own." if self.seeds_shown
                      else "Groups of seeds drawn as their mean and min–max spread.")
        self._mark_charts()

    def action_preset(self, delta: int) -> None:
        self.side.step(delta)

    def action_hide_run(self) -> None:
        """Hide the selected run's curves, or show them again; its row stays (○ while hidden)."""
        key = self.table.selected_key
        view = self.views.get(key) if key else None
        if view is None:
            self.log_line("No run in the table to hide.")
            return
        view.overlay = not view.overlay
        self.table.show(view)
        self._mark_charts()
        if view.overlay:
            self.log_line(f"[b]{escape(view.label)}[/] is drawn in the charts again.")
        else:
            self.log_line(f"[b]{escape(view.label)}[/] is hidden from the charts (○); d again shows it.")

    def action_open_runs(self) -> None:
        infos = [read_run(path) for path in list_runs(self.logdir)]
        shown = {v.run_dir for v in self.views}
        infos = [i for i in infos if str(i.path) not in shown]

        def opened(paths: list | None) -> None:
            live = {str(info.path) for info, _ in self.following.live()}
            for path in paths or []:  # a run another process trains now is followed live
                if str(path) in live:
                    self.following.add(path)
            paths = [p for p in paths or [] if str(p) not in live]
            added = [v for v in (self.views.add_past(read_run(path)) for path in paths) if v]
            if added:
                self._relabel()
                self.log_line(f"Opened {', '.join(escape(v.label) for v in added)}.")

        self.push_screen(PastRunsScreen(infos, self.logdir), opened)

    def action_queue(self) -> None:
        self.many.open_queue()

    def action_filter(self) -> None:
        self.many.ask_filter()

    def action_group(self) -> None:
        self.many.next_group()

    def action_fold(self) -> None:
        self.many.toggle_fold()

    def action_toggle_panel(self) -> None:
        side = self.side
        side.toggle_class("-hidden")
        if side.has_class("-hidden") and self.focused is not None and side in self.focused.ancestors:
            self.table.focus()

    def action_focus(self, target: str) -> None:
        if target == "form":  # the field edited last
            self.side.remove_class("-hidden")
            self.side.form.focus_field()
            return
        self.get_screen_main().query({"charts": MetricChart, "runs": RunsTable}[target]).first().focus()

    def action_help(self) -> None:
        """Every key: the app's (in ACTIONS order), the main screen's, a focused chart's and the
        compare screen's, each from its own BINDINGS."""
        order = {action: k for k, (action, _, _) in enumerate(self.ACTIONS)}
        texts = {action: text for action, _, text in self.ACTIONS}
        rows = key_rows([(sorted(self.BINDINGS, key=lambda b: order.get(b.action, len(order))), texts),
                         (MainScreen.BINDINGS, MainScreen.HELP), (MetricChart.BINDINGS, MetricChart.HELP),
                         (CompareScreen.BINDINGS, CompareScreen.HELP), (RangedChart.BINDINGS, RangedChart.HELP),
                         (QueueScreen.BINDINGS, QueueScreen.HELP)])
        self.push_screen(HelpScreen(rows + [("ctrl+p", "command palette")]))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for action, title, text in self.ACTIONS:
            yield SystemCommand(title, text, lambda a=action: self.run_action(a))

    @on(RunsTable.RowSelected)
    def _row_selected(self, event: RunsTable.RowSelected) -> None:
        """Enter on a row: its last message and where its record is."""
        view = self.views.get(event.row_key.value)
        if view is not None:
            where = f" ({escape(view.run_dir)})" if view.run_dir else ""
            differs = f"; differs from the first run: {escape(view.settings)}" if view.settings else ""
            self.log_line(f"[b]{escape(view.label)}[/]{where}: {escape(ended_text(view.status, view.message))}"
                          + differs)

    def on_side_panel_preset_chosen(self, message: SidePanel.PresetChosen) -> None:
        n = len(message.preset.runs)
        self.side.form.preset_seeds(message.preset.seeds)
        self.sub_title = f"{message.preset.name} ({n} run{'s' if n != 1 else ''})"


# core.advice's kinds of advice as the console words them: its key where it has one
CONSOLE_WORDS = {
    "resume": "{body}; {fix}resume with r on its row.",
    "again": "{body}; {fix}resume it again with r on its row.",
    "done": "{body}.",
    "longer": "{body}; to train it longer, run cifar-tui run --resume {run_dir} --set epochs=N in a shell.",  # no key
}


def for_console(ended: RunEnded) -> str:
    """A run's end as the console says it (core's message names the shell commands)."""
    return ended.advice.say(CONSOLE_WORDS) if ended.advice is not None else ended.message




def detach_terminal() -> int:
    """The terminal hung up: output goes to /dev/null and input to a silent pipe, so Textual's
    threads neither fail on the dead terminal nor spin on an endless EOF while the run stops.
    Returns the pipe's write end: closing it (at exit) ends Textual's input thread."""
    from tui.headless import silence_terminal

    silence_terminal()
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    return write_end


def run_console(logdir: str, data_dir=None, data_url=None, data_md5=None, on_hangup="keep", executor=None) -> int:
    """Exit status 0, or 128 + N after a quit signal N, like `cifar-tui run`; 1 if the app crashed
    (Textual has printed the traceback). `executor`: where the runs train (default: here)."""
    app = CifarApp(logdir=logdir, data_dir=data_dir, data_url=data_url, data_md5=data_md5, on_hangup=on_hangup,
                   executor=executor)
    app.run()
    return 128 + app.signalled if app.signalled else app.return_code or 0
