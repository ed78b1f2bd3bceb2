"""The Textual console: wires the screen's widgets to the console's model.

The state (runs, queue, timings, ETA, stop policy) lives in tui.consolemodel.ConsoleModel,
the keys in tui.keys, the quit signals in tui.signals and the main screen's other actions in
tui.mainactions. One training thread takes runs from the model's queue (core.jobqueue) that the
app appends to while it trains; a new thread starts when the queue had run dry. It hands core's
events to the app with `post_message` and never touches a widget; the app updates the table as
events arrive and redraws the charts and the progress line from a timer, so a burst of events
costs one redraw.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import App
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from core.config import RunConfig
from core.drain import drain
from core.events import RunEnded
from core.executor import Executor, ThreadExecutor
from core.job import Job
from core.presets import load_all
from tui import keys, studyresume
from tui.consolemodel import ConsoleModel
from tui.following import FollowFound, Following
from tui.mainactions import MainActions
from tui.manyruns import ManyRuns
from tui.messages import TrainerEvent
from tui.recipes import Recipe
from tui.screens.dialogs import DataMissingScreen
from tui.stopping import Stopping
from tui.screens.main import MainScreen
from tui.signals import Signals
from tui.widgets.chartgrid import ChartGrid
from tui.widgets.progress import EpochProgress
from tui.widgets.runs_table import RunsTable
from tui.widgets.side_panel import SidePanel

CHART_REFRESH_S = 0.3  # charts redraw at most this often
DEFAULT_PRESET = "quick-demo"  # offline and quick: the friendliest first choice


class CifarApp(MainActions, App):
    TITLE = "cifar-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    BINDINGS = keys.BINDINGS

    def __init__(self, logdir: str = "runs", data_dir: str | None = None, data_url: str | None = None,
                 data_md5: str | None = None, clock=time.monotonic, on_hangup: str = "keep",
                 executor: Executor | None = None) -> None:
        super().__init__()
        self.logdir, self.data_url, self.data_md5 = logdir, data_url, data_md5
        # where the queue's runs train (core.placement.make_executor); default: one by one, here
        self.executor = executor or ThreadExecutor(logdir, data_url, data_md5)
        self.signals = Signals(self, on_hangup)
        self.following = Following(self)
        self.model = ConsoleModel(logdir, self, clock, follows=self.following.follows,
                                  plan=lambda experiment, jobs: studyresume.record(self, experiment, jobs))
        self.views, self.queue = self.model.views, self.model.queue  # the same objects, for short
        self.many = ManyRuns(self)  # filter, grouping, folding, the queue and full-screen chart screens
        self.model.shown = self.many.shown
        self.stopping = Stopping(self)  # what x and X stop
        base = RunConfig(data_dir=data_dir) if data_dir else None
        self.presets, self.preset_errors = load_all(base)
        self.training_worker: Worker | None = None  # the thread that trains the queue now (or last)

    # ---- set-up -------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        names = [p.name for p in self.presets]
        return MainScreen(self.presets, DEFAULT_PRESET if DEFAULT_PRESET in names else "")

    def on_mount(self) -> None:
        self.call_after_refresh(self._startup)
        if not self.is_headless:  # tests call the handler (signals.handle), not the test runner's signals
            self.signals.install()

    def on_unmount(self) -> None:
        """However the app ends, a training thread still running stops within a batch (the
        process waits for it), so its records end 'stopped' rather than 'running'."""
        self.queue.halt()
        self.following.close()

    def _startup(self) -> None:
        """Once the main screen is composed."""
        self.set_interval(CHART_REFRESH_S, self._redraw)
        self.progress_idle()
        for error in self.preset_errors:
            self.log_line(f"[red]broken preset:[/] {escape(error)}")
        self.log_line("Pick a preset, then [b]s[/] starts its run, [b]a[/] all its runs; [b]?[/] help.")
        self.following.start()
        self.following.offer()

    # ---- the widgets (the model draws through these) ---------------------------
    def get_screen_main(self) -> MainScreen:
        return self.screen_stack[0]

    def _q(self, selector, kind=None):
        return self.get_screen_main().query_one(selector, kind)

    @property
    def side(self) -> SidePanel:
        return self._q(SidePanel)

    @property
    def table(self) -> RunsTable:
        return self._q(RunsTable)

    @property
    def charts(self) -> ChartGrid:
        return self._q(ChartGrid)

    def log_line(self, text: str) -> None:
        """Write Rich markup to the log pane; callers escape what they did not write."""
        self._q("#log").write(text)

    def refused(self, reason: str) -> None:
        self.log_line(f"[red]Not started:[/] {escape(reason)}")
        self.notify(reason, title="Not started", severity="error", markup=False)  # names paths as text

    def show_row(self, view) -> None:
        self.table.show(view)

    def drop_row(self, key: str) -> None:
        self.table.drop(key)

    def progress_idle(self) -> None:
        self._q(EpochProgress).idle()

    @property
    def running(self) -> bool:
        """A queue is training, as far as the app has seen: true from start until the worker's
        end has been handled (after every event it posted)."""
        return self.model.active

    @property
    def signalled(self) -> int | None:
        """The quit signal received, if any."""
        return self.signals.signalled

    # ---- the training thread ----------------------------------------------
    def launch(self, experiment: str, jobs: list[tuple[Job, Recipe]]) -> None:
        """Queue `jobs` (rows at once); a training thread starts if none takes them."""
        if self.model.launch(experiment, jobs):
            self.start_training()

    def enqueue(self, jobs: list[Job]) -> None:
        """Queue `jobs` whose rows are on screen; a training thread starts if none takes them."""
        if self.model.enqueue(jobs):
            self.start_training()

    def start_training(self) -> None:
        self.training_worker = self._train(self.model.trained)

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

    async def action_quit(self) -> None:
        if self.model.quit():
            self.exit()

    def exit(self, *args, **kwargs) -> None:
        self.signals.release()
        super().exit(*args, **kwargs)

    def panic(self, *renderables) -> None:
        """A hung-up terminal can make Textual's input thread fail before the SIGHUP handler has
        run; that is a quit, not a crash to print onto a terminal that is gone."""
        if self.signals.hung_up:
            if not self.signals.keep_training:
                self.call_next(self.action_quit)
            return
        super().panic(*renderables)

    # ---- trainer events ---------------------------------------------------
    def on_trainer_event(self, message: TrainerEvent) -> None:
        view = self.views.get(message.key)
        if view is not None:
            self.many.on_event(view, message.event)  # where it trains, its latest batch
        if view is not None and isinstance(message.event, RunEnded):
            self.following.forget(view)  # its end is drawn and logged as this console's own
        try:
            self.model.apply(message.key, message.event)
        except NoMatches:  # an event that arrives while the app closes: the widgets are gone
            pass

    def on_follow_found(self, message: FollowFound) -> None:
        self.following.found(message)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "following" and event.state == WorkerState.ERROR:  # a bug: say so, keep the app up
            error = event.worker.error
            self.log_line(f"[red]internal error while following runs:[/] {type(error).__name__}: {escape(str(error))}")
        if event.worker.group != "training" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        latest = event.worker is self.training_worker
        self.model.training_ended(event.worker.error if event.state == WorkerState.ERROR else None, latest)
        if not latest:
            return
        if self.model.quitting or self.signals.keep_training:
            self.exit()
        elif self.model.data_failure:
            self._offer_synthetic(self.model.data_failure[0])

    def _offer_synthetic(self, message: str) -> None:
        reruns = self.model.synthetic_reruns()

        def answer(use_synthetic: bool | None) -> None:
            if not use_synthetic:
                self.log_line("Put CIFAR-10 into the data folder, or set dataset to synthetic in the form.")
                return
            self.side.form.widget("dataset").value = "synthetic"
            self.log_line("Running again on the synthetic data set.")
            for experiment, jobs in reruns:
                self.launch(experiment, jobs)

        self.push_screen(DataMissingScreen(message), answer)

    # ---- the timer -------------------------------------------------------------
    def _redraw(self) -> None:
        try:
            self.redraw()
        except NoMatches:  # shutting down: the widgets are gone
            pass

    def redraw(self) -> None:
        """The timer's work: the progress line, the running runs' time, the charts if anything changed."""
        model = self.model
        if (line := model.progress_line()) is not None:  # several runs at once: `all` is the study's, as u says
            self._q(EpochProgress).advance(*line[:-1], self.many.study_left() or line[-1])
        model.tick_all()
        if model.take_charts():
            self.charts.show(model.drawn(), model.smoothing, model.log_y, model.seeds_shown)




def run_console(logdir: str, data_dir=None, data_url=None, data_md5=None, on_hangup="keep", executor=None) -> int:
    """Exit status 0, or 128 + N after a quit signal N, like `cifar-tui run`; 1 if the app crashed
    (Textual has printed the traceback). `executor`: where the runs train (default: here)."""
    app = CifarApp(logdir=logdir, data_dir=data_dir, data_url=data_url, data_md5=data_md5, on_hangup=on_hangup,
                   executor=executor)
    app.run()
    return 128 + app.signalled if app.signalled else app.return_code or 0
