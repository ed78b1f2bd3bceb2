"""The Textual console: bindings, actions and the trainer worker.

The trainer runs in one thread worker per start (a queue of runs). It hands
core's events to the app with `post_message` and never touches a widget; the
app updates the table and progress as events arrive and redraws the charts
from a timer, so a burst of events costs one redraw.
"""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from core.config import ConfigError, RunConfig
from core.events import BatchProgress, EpochDone, RunEnded, RunStarted
from core.presets import load_all
from core.records import RecordError, list_runs, read_run
from core.resume import resumable_runs, resume_config, resume_problem
from core.trainer import train
from tui.messages import TrainerEvent
from tui.runview import RunView, Views
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import DataMissingScreen, PastRunsScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.widgets.charts import ChartGrid, MetricChart
from tui.widgets.progress import EpochProgress
from tui.widgets.runs_table import RunsTable
from tui.widgets.side_panel import SidePanel

CHART_REFRESH_S = 0.3  # charts redraw at most this often
DEFAULT_PRESET = "quick-demo"  # offline and quick: the friendliest first choice
# a hung-up terminal (SIGHUP) or a kill (SIGTERM) quits the way `q` does: Textual leaves both
# to Python's default, which would end the process mid-batch with the run's status 'running'
QUIT_SIGNALS = [s for s in (getattr(signal, n, None) for n in ("SIGHUP", "SIGTERM")) if s]
HANG_UP_GRACE_S = 10.0  # after a hang-up and the run's clean stop, how long the app may take to exit


@dataclass
class Job:
    key: str
    name: str
    config: RunConfig
    resume_dir: str | None = None  # carry on this run folder rather than start a new one


class CifarApp(App):
    TITLE = "cifar-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("a", "start_all", "Start all"),
        Binding("x", "stop", "Stop"),
        Binding("c", "compare", "Compare"),
        Binding("r", "resume", "Resume", show=False),
        Binding("n", "preset(1)", "Next preset", show=False),
        Binding("p", "preset(-1)", "Prev preset", show=False),
        Binding("m", "toggle_smoothing", "Smooth"),
        Binding("l", "toggle_log_y", "Log y"),
        Binding("o", "open_runs", "Open runs", show=False),
        Binding("d", "hide_run", "Hide run", show=False),
        Binding("b", "toggle_panel", "Panel", show=False),
        Binding("f", "focus('form')", "Focus form", show=False),
        Binding("g", "focus('charts')", "Focus charts", show=False),
        Binding("t", "focus('runs')", "Focus table", show=False),
        Binding("escape", "focus('runs')", "Leave form", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]
    # (action, palette title, help text) for the palette and the help screen
    ACTIONS = (
        ("start", "Start run", "start the run in the form (edited: a 'custom' run)"),
        ("start_all", "Start all runs of the preset", "start every run of the preset, with the form's edits"),
        ("stop", "Stop", "stop the run within one batch (finished epochs are kept)"),
        ("compare", "Compare runs", "the runs on screen side by side: sort, pick the charts' runs, "
         "see where test loss starts rising"),
        ("resume", "Resume run", "carry on the table's stopped/interrupted/failed run "
         "(no run there: choose one under the log dir)"),
        ("preset(1)", "Next preset", "choose the next preset"),
        ("preset(-1)", "Previous preset", "choose the previous preset"),
        ("toggle_smoothing", "Toggle smoothing", "smooth the curves (TensorBoard's EMA, weight 0.6)"),
        ("toggle_log_y", "Toggle log y", "logarithmic y axis"),
        ("open_runs", "Open past runs", "overlay runs recorded under the log dir"),
        ("hide_run", "Hide run", "remove the table's selected run from the charts"),
        ("toggle_panel", "Toggle side panel", "hide the presets and form: more room for the charts"),
        ("focus('form')", "Focus form", "move to the run form"),
        ("focus('charts')", "Focus charts", "move to the charts"),
        ("focus('runs')", "Focus table", "move to the runs table"),
        ("help", "Help", "this screen"),
        ("quit", "Quit", "quit (a running run is stopped cleanly first)"),
    )

    def __init__(self, logdir: str = "runs", data_dir: str | None = None, data_url: str | None = None,
                 data_md5: str | None = None, clock=time.monotonic) -> None:
        super().__init__()
        self.logdir, self.data_url, self.data_md5 = logdir, data_url, data_md5
        self.clock = clock
        base = RunConfig(data_dir=data_dir) if data_dir else None
        self.presets, self.preset_errors = load_all(base)
        self.views = Views()
        self.smoothing = False
        self.log_y = False
        self._stop = threading.Event()
        self._trained = threading.Event()  # the training thread has returned (set while none runs)
        self._trained.set()
        self._worker: Worker | None = None
        self._running_key: str | None = None
        self._run_started = 0.0
        self._quitting = False
        self._active = False
        self._charts_dirty = False
        self._progress = None  # the latest batch progress, not yet drawn
        self._data_failure: tuple[str, list[Job], str] | None = None  # (message, jobs to rerun, experiment)
        self.signalled: int | None = None  # the quit signal received, if any
        self._hung_up = False
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
        self._stop.set()

    def _startup(self) -> None:
        """Once the main screen is composed."""
        self.set_interval(CHART_REFRESH_S, self._refresh_charts)
        self._q(EpochProgress).idle()
        for error in self.preset_errors:
            self.log_line(f"[red]broken preset:[/] {escape(error)}")
        self.log_line("Pick a preset, then [b]s[/] starts its run, [b]a[/] all its runs; [b]?[/] help.")

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
        self._launch(self._experiment(), [(self.side.run_name, config)])

    def action_start_all(self) -> None:
        preset = self.side.preset
        if preset is None or self._refuse(self.side.form.validate() is None and self._form_reason()):
            return
        overrides = self.side.form.overrides()
        try:
            jobs = [(name, config.replace(**overrides)) for name, config in preset.runs]
        except ConfigError as e:
            self._refuse(f"the form's changes do not fit every run of {preset.name}: {e}")
            return
        self._launch(preset.name, jobs)

    def _form_reason(self) -> str:
        errors = self.side.form.errors  # in form order
        if not errors:
            return "the form has an invalid value."
        more = len(errors) - 1
        return next(iter(errors.values())) + (f" (and {more} more field{'s' * (more > 1)} marked in the form)" if more else "")

    def _refuse(self, reason) -> bool:
        """Say why a start cannot happen; True if it cannot."""
        if not reason and self.running:
            reason = "a run is in progress; stop it first (x) or wait for it to end."
        if not reason:
            return False
        self.log_line(f"[red]Not started:[/] {escape(str(reason))}")
        self.notify(str(reason), title="Not started", severity="error")
        return True

    def _experiment(self) -> str:
        return self.side.preset.name if self.side.preset else "custom"

    def _launch(self, experiment: str, jobs: list[tuple[str, RunConfig]]) -> None:
        queued = []
        for name, config in jobs:
            view = self.views.add(name, experiment, config=config.to_dict(), epochs=config.epochs)
            self.table.show(view)
            queued.append(Job(view.key, name, config))
        self._run_jobs(experiment, queued)

    def _run_jobs(self, experiment: str, queued: list[Job]) -> None:
        self._stop, self._trained = threading.Event(), threading.Event()
        self._data_failure = None
        self._mark_charts()
        self._active = True
        self._worker = self._train(experiment, queued, self._stop, self._trained)

    @work(thread=True, exit_on_error=False, group="training", description="training")
    def _train(self, experiment: str, jobs: list[Job], stop: threading.Event, trained: threading.Event) -> None:
        """Runs the queue in this thread; talks to the app only through post_message."""
        try:
            for job in jobs:
                if stop.is_set():
                    return
                ended = train(job.config, lambda event, key=job.key: self.post_message(TrainerEvent(key, event)),
                              stop, logdir=self.logdir, experiment=experiment, run=job.name,
                              data_url=self.data_url, data_md5=self.data_md5, resume_dir=job.resume_dir)
                if is_data_missing(job.config, ended):
                    return  # the rest would fail the same way; the app offers synthetic data
        finally:
            trained.set()

    def action_stop(self) -> None:
        if not self.running:
            self.log_line("Nothing is running.")
            return
        self._stop.set()
        self.log_line("Stopping at the end of this batch…")

    async def action_quit(self) -> None:
        if not self.running:
            self.exit()
            return
        if self._quitting:
            self.log_line("Still waiting for the trainer to finish its batch…")
            return
        self._quitting = True
        self._stop.set()
        self.log_line("Stopping the run before quitting (the finished epochs are kept)…")

    def _on_signal(self, signum: int, _frame) -> None:
        """SIGHUP/SIGTERM (main thread, between two steps of the event loop): quit as `q` does."""
        self._stop.set()  # first of all: the records end right even if the UI cannot go on
        if signum == getattr(signal, "SIGHUP", None) and not self._hung_up and not self.is_headless:
            self._hung_up = True
            self._input_pipe = detach_terminal()  # before Textual's next read or write on the dead terminal
            threading.Thread(target=self._exit_after_hang_up, args=(signum,), daemon=True).start()
        first = self.signalled is None
        self.signalled = self.signalled or signum
        if first:  # call_soon_threadsafe wakes the event loop (from its own thread, too)
            asyncio.get_running_loop().call_soon_threadsafe(self.call_next, self.quit_on_signal)

    def _exit_after_hang_up(self, signum: int) -> None:
        """Nobody is watching a hung-up console: once the run has stopped and its records are
        closed, make sure the process ends even if Textual got stuck on the dead terminal (its
        output thread may have failed before the handler ran)."""
        self._trained.wait()
        time.sleep(HANG_UP_GRACE_S)
        os._exit(128 + signum)

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
        if view.status in ("queued", "running"):
            self._refuse(f"{view.name} is {view.status}; it cannot be resumed.")
            return
        if not view.run_dir:
            self._refuse(f"{view.name} has no record to resume (it never started); start it again (s).")
            return
        self._resume(view)

    def _pick_resumable(self) -> None:
        runs = resumable_runs(self.logdir)
        if not runs:
            self.log_line("No run under the log dir can be resumed (none was stopped, killed or failed).")
            return

        def chosen(paths: list | None) -> None:
            if paths:
                view = self.views.add_past(read_run(paths[0])) or next(
                    v for v in self.views if v.run_dir == str(paths[0]))
                self.table.show(view)
                self._resume(view)

        self.push_screen(PastRunsScreen(runs, self.logdir, title="Resume which run?", single=True), chosen)

    def _resume(self, view: RunView) -> None:
        problem = resume_problem(read_run(view.run_dir))
        try:
            if problem:
                raise RecordError(problem)
            config, experiment, name = resume_config(view.run_dir)
        except (RecordError, ConfigError) as e:
            self._refuse(str(e))
            return
        view.status, view.message, view.cause, view.config = "queued", "", "", config.to_dict()
        self.table.show(view)
        self.log_line(f"Resuming [b]{escape(experiment)}/{escape(name)}[/] ({len(view.metrics)} epoch(s) on record).")
        self._run_jobs(experiment, [Job(view.key, name, config, resume_dir=view.run_dir)])

    # ---- compare ------------------------------------------------------------
    # the main screen's actions that make no sense over the compare screen (off its footer too)
    MAIN_ONLY = {"start", "start_all", "preset", "toggle_smoothing", "toggle_log_y", "open_runs",
                 "hide_run", "toggle_panel", "focus", "resume"}

    def check_action(self, action: str, parameters) -> bool | None:
        if action in self.MAIN_ONLY and isinstance(self.screen, CompareScreen):
            return False
        return True

    def action_compare(self) -> None:
        if isinstance(self.screen, CompareScreen):
            return
        self.push_screen(CompareScreen(lambda: [v for v in self.views if v.run_dir], self._mark_charts))

    # ---- trainer events ---------------------------------------------------
    def on_trainer_event(self, message: TrainerEvent) -> None:
        view = self.views.get(message.key)
        if view is None:
            return
        event = message.event
        if isinstance(event, BatchProgress):  # drawn by the timer: every redraw costs the trainer GIL time
            self._progress = (view.name, view.epochs, event)
            return
        if isinstance(event, RunStarted):
            view.status, view.run_dir, view.epochs = "running", event.run_dir, event.epochs
            view.metrics = [m for m in view.metrics if m["epoch"] < event.first_epoch]  # as on disk now
            self._running_key, self._run_started = view.key, self.clock()
            how = f"resumed at epoch {event.first_epoch}" if event.first_epoch > 1 else "started"
            self.log_line(f"[b]{escape(event.experiment)}/{escape(Path(event.run_dir).name)}[/] {how} on {event.device}.")
            self._mark_charts()
        elif isinstance(event, EpochDone):
            view.metrics.append(event.metrics)
            self._mark_charts()
        elif isinstance(event, RunEnded):
            self._ended(view, event)
        self.table.show(view)

    def _ended(self, view: RunView, event: RunEnded) -> None:
        view.status, view.message, view.cause = event.status, event.message, event.cause
        view.run_dir = event.run_dir or view.run_dir
        self._running_key, self._progress = None, None
        self._q(EpochProgress).idle()
        style = {"finished": "green", "stopped": "yellow"}.get(event.status, "red")
        self.log_line(f"[{style}]{escape(view.name)}: {event.status}[/] — {escape(event.message)}")
        config = RunConfig(**view.config) if view.config else None
        if config is not None and is_data_missing(config, event):
            rerun = [Job(v.key, v.name, RunConfig(**v.config)) for v in self.views
                     if v.key == view.key or v.status == "queued"]
            self._data_failure = (event.message, rerun, view.experiment)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if event.state == WorkerState.ERROR:  # a bug in the trainer: say so, keep the app up
            error = event.worker.error
            self.log_line(f"[red]internal error in the training thread:[/] {type(error).__name__}: {escape(str(error))}")
            if self._running_key and (view := self.views.get(self._running_key)):
                view.status = "failed"
                self.table.show(view)
        for view in self.views:
            if view.status in ("queued", "running"):
                view.status = "skipped" if view.status == "queued" else "failed"
                self.table.show(view)
        self._running_key = None
        self._active = False
        self._mark_charts()
        if self._quitting:
            self.exit()
        elif self._data_failure:
            self._offer_synthetic(*self._data_failure)

    def _offer_synthetic(self, message: str, jobs: list[Job], experiment: str) -> None:
        def answer(use_synthetic: bool | None) -> None:
            if not use_synthetic:
                self.log_line("Put CIFAR-10 into the data folder, or set dataset to synthetic in the form.")
                return
            self.side.form.widget("dataset").value = "synthetic"
            self.log_line("Running again on the synthetic data set.")
            self._launch(experiment, [(j.name, j.config.replace(dataset="synthetic")) for j in jobs])

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
        if self._progress:
            name, epochs, event = self._progress
            self._progress = None
            self._q(EpochProgress).advance(name, event.epoch, epochs, event.batch, event.batches)
        if self._running_key and (view := self.views.get(self._running_key)):
            live = self.clock() - self._run_started - view.seconds
            self.table.show(view, max(live, 0.0))
        if not self._charts_dirty:
            return
        self._charts_dirty = False
        self.charts.show([v for v in self.views if v.overlay], self.smoothing, self.log_y)

    def action_toggle_smoothing(self) -> None:
        self.smoothing = not self.smoothing
        self.log_line(f"Smoothing {'on (EMA 0.6)' if self.smoothing else 'off'}.")
        self._mark_charts()

    def action_toggle_log_y(self) -> None:
        self.log_y = not self.log_y
        self.log_line(f"Log y {'on' if self.log_y else 'off'}.")
        self._mark_charts()

    def action_preset(self, delta: int) -> None:
        self.side.step(delta)

    def action_hide_run(self) -> None:
        key = self.table.selected_key
        if key is None:
            return
        if key == self._running_key or self.views.get(key).status == "queued":
            self.log_line("That run is in progress; stop it first (x).")
            return
        self.views.remove(key)
        self.table.drop(key)
        self._mark_charts()

    def action_open_runs(self) -> None:
        infos = [read_run(path) for path in list_runs(self.logdir)]
        shown = {v.run_dir for v in self.views}
        infos = [i for i in infos if str(i.path) not in shown]

        def opened(paths: list | None) -> None:
            for path in paths or []:
                view = self.views.add_past(read_run(path))
                if view is not None:
                    self.table.show(view)
            if paths:
                self.log_line(f"Opened {len(paths)} past run(s).")
                self._mark_charts()

        self.push_screen(PastRunsScreen(infos, self.logdir), opened)

    def action_toggle_panel(self) -> None:
        side = self.side
        side.toggle_class("-hidden")
        if side.has_class("-hidden") and self.focused is not None and side in self.focused.ancestors:
            self.table.focus()

    def action_focus(self, target: str) -> None:
        if target == "form":
            self.side.remove_class("-hidden")
        widget = {"form": "#form Input, #form Select", "charts": MetricChart, "runs": RunsTable}[target]
        self.get_screen_main().query(widget).first().focus()

    def action_help(self) -> None:
        keys: dict[str, list[str]] = {}
        for b in self.BINDINGS:
            keys.setdefault(b.action, []).append(b.key.replace("question_mark", "?"))
        rows = [(", ".join(keys.get(action, [])), text) for action, _, text in self.ACTIONS]
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
            self.log_line(f"[b]{escape(view.name)}[/]{where}: {view.status}"
                          + (f" — {escape(view.message)}" if view.message else ""))

    def on_side_panel_preset_chosen(self, message: SidePanel.PresetChosen) -> None:
        n = len(message.preset.runs)
        self.sub_title = f"{message.preset.name} ({n} run{'s' if n != 1 else ''})"


def is_data_missing(config: RunConfig, ended: RunEnded) -> bool:
    """Whether a run failed because CIFAR-10 is not on disk and could not be fetched."""
    return config.dataset == "cifar10" and ended.cause == "data"


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


def run_console(logdir: str, data_dir=None, data_url=None, data_md5=None) -> int:
    """Exit status 0, or 128 + N after a quit signal N, like `cifar-tui run`."""
    app = CifarApp(logdir=logdir, data_dir=data_dir, data_url=data_url, data_md5=data_md5)
    app.run()
    return 128 + app.signalled if app.signalled else 0
