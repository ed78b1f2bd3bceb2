"""The console's state in plain Python: the runs on screen, the queue, each run's state and
timings, the ETA, the stop policy and the data-missing offer.

No Textual here, so tests drive it with a fake clock and a recording screen. The app owns one
and hands it trainer events; the model answers through `out`, the few things it draws:

    out.log_line(markup)   a line in the log pane (callers escape what they did not write)
    out.refused(reason)    a start that cannot happen, said once (log and notification)
    out.show_row(view)     the table's row of `view`, added or updated
    out.drop_row(key)      a row gone
    out.progress_idle()    the progress line: nothing trains
"""
from __future__ import annotations

import threading
import time

from rich.markup import escape

from core.config import ConfigError, RunConfig
from core.drain import data_missing
from core.events import BatchProgress, EpochDone, RunEnded, RunNote, RunStarted
from core.job import Job
from core.jobqueue import JobQueue
from core.records import RecordError, read_run
from core.resume import resume_config, resume_problem
from tui.consolewords import CONSOLE_WORDS, for_console
from tui.headless import ended_text
from tui.recipes import Recipe, again, trained
from tui.runview import RunView, Views
from tui.eta import epoch_seconds, queue_left, run_left

def plural(n: int, word: str = "run") -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class ConsoleModel:
    def __init__(self, logdir: str | None, out, clock=time.monotonic, follows=lambda key: False,
                 plan=lambda experiment, jobs: jobs) -> None:
        self.views = Views(logdir)
        self.queue = JobQueue()
        self.out, self.clock = out, clock
        self.follows = follows            # key -> another process trains that run (this console follows it)
        self.plan = plan                  # (experiment, jobs) -> jobs as planned in its study record; None: refused
        self.smoothing = self.log_y = False
        self.seeds_shown = False          # `e`: each seed of a group drawn on its own
        self.shown = lambda view: True    # the `/` filter (tui.manyruns): the charts draw what passes it
        self.trained = threading.Event()  # the training thread has returned (set while none runs)
        self.trained.set()
        # per running run (trained or followed): [clock when it started here, its time column then,
        # clock when its current epoch began]
        self.timing: dict[str, list[float]] = {}
        self.stop_pressed = False  # x was pressed since the queue last got work: x again clears it
        self.quitting = False
        self.active = False        # a queue trains, as far as the app has seen (see CifarApp.running)
        self.charts_dirty = False
        self.progress: dict = {}   # the latest batch progress per run key: (view, event), not yet drawn
        self.data_failure: tuple[str, list[tuple[Job, Recipe | None]]] | None = None  # (message, jobs to rerun)

    # ---- queue --------------------------------------------------------------
    def refuse(self, reason) -> bool:
        """Say why a start cannot happen; True if it cannot (a quitting console starts nothing)."""
        if not reason and self.quitting:
            reason = "the console is quitting."
        if not reason:
            return False
        self.out.refused(str(reason))
        return True

    def launch(self, experiment: str, jobs: list[tuple[Job, Recipe]]) -> bool:
        """Queue `jobs`, each in a row named by the folder it will get; a seed its group has
        finished on screen already is not trained again (the log says so). True: a training
        thread must start."""
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
            self.out.log_line(f"Trained already, not queued again: {escape(', '.join(done))}.")
        if (queued := self.plan(experiment, queued)) is None:  # the study record refused them (said why)
            return False
        self.relabel()
        return self.enqueue(queued)

    def enqueue(self, jobs: list[Job]) -> bool:
        """Queue `jobs` behind the run in progress; True: no thread takes them, one must start."""
        ahead = len(self.queue.pending()) + (self.queue.current is not None)
        self.stop_pressed = False
        if ahead and jobs:
            names = ", ".join(escape(self.views.get(j.key).label) for j in jobs)
            self.out.log_line(f"Queued {names} ({plural(ahead)} ahead).")
        start = self.queue.put(jobs)
        if start:
            self.trained = threading.Event()
            self.data_failure = None
            self.active = True
        self.charts_dirty = True
        return start

    def in_queue(self, key: str) -> bool:
        return any(job.key == key for job in self.queue.pending())

    def clear_queue(self) -> int:
        """Drop the runs not started yet (rows too); how many."""
        dropped = self.queue.clear()
        for job in dropped:
            self.views.remove(job.key)
            self.out.drop_row(job.key)
        if dropped:
            self.relabel()
        return len(dropped)

    # ---- stop and quit (the policy; tui.stopping asks other processes and the user) ---------
    def idle_sentence(self, key: str, following: bool) -> str:
        """x or X with nothing training here; `following`: some run on screen is followed live."""
        if following:
            return f"Nothing is running here; to stop a run followed live, select its row (t, ↑↓), then {key}."
        return "Nothing is running."

    def take_off(self, key: str | None) -> bool:
        """x on a queued row: that run leaves the queue and the table before it starts (False:
        it is not queued here)."""
        view = self.views.get(key) if key else None
        if view is None or view.status != "queued" or self.queue.remove(key) is None:
            return False
        self.views.remove(key)
        self.out.drop_row(key)
        self.relabel()
        self.out.log_line(f"Took {escape(view.label)} off the queue; it will not start.")
        return True

    def stop_here(self, following: bool = False) -> None:
        """x where this console's own thread trains one run at a time: that run's stop flag."""
        job, stop = self.queue.training()
        if not self.active or job is None:
            self.out.log_line(self.idle_sentence("x", following))
            return
        stopping = stop.is_set()
        stop.set()
        self.told(f"{escape(self.views.get(job.key).label)} (this console)", stopping)

    def told(self, label: str, stopping: bool) -> None:
        """The log line of x on `label` (already `stopping`: x pressed on it before); x again,
        nothing queued since, clears the queue too."""
        if self.stop_pressed:
            dropped = self.clear_queue()
            what = f"cleared the queue ({plural(dropped)} not started)" if dropped else "nothing else was queued"
            self.out.log_line(f"{what[0].upper()}{what[1:]}." if stopping else
                              f"Stopping {label} at the end of this batch; {what}.")
            return
        self.stop_pressed = True
        waiting = len(self.queue.pending())
        more = f" {plural(waiting)} still queued: x again clears the queue too." if waiting else ""
        self.out.log_line(f"Stopping {label} at the end of this batch…{more}")

    def mine(self) -> list[RunView]:
        """The runs this console trains (or has queued), not those it follows."""
        return [v for v in self.views if not self.follows(v.key)]

    def which(self, running: int, following: bool = False) -> str:
        """Why x on this row stops nothing, when this console's `running` runs train elsewhere."""
        if not self.active:
            return self.idle_sentence("x", following)
        if not running:
            return "No run has started yet; X stops everything this console trains."
        return f"{plural(running)} train here: select the one to stop (t, ↑↓), then x; X stops them all."

    def counts(self) -> tuple[int, int]:
        """(this console's running runs, its runs queued or waiting for a worker)."""
        mine = self.mine()
        return sum(v.status == "running" for v in mine), sum(v.status == "queued" for v in mine)

    def stop_study(self, following: bool = False) -> None:
        """X answered yes: everything this console trains stops, its queue is dropped."""
        if not self.active:  # it ended while the question was open
            self.out.log_line(self.idle_sentence("X", following))
            return
        running, queued = self.counts()  # now: the question may have been open a while
        self.clear_queue()
        self.queue.halt()
        self.stop_pressed = True
        self.out.log_line(f"Stopping the whole study here: {plural(running, 'running run')} "
                          f"{'stops' if running == 1 else 'stop'} at the end of this batch; "
                          f"{plural(queued, 'queued run')} will not start.")

    def quit(self) -> bool:
        """q: True when nothing trains (the app exits now); else the queue stops and the app
        exits once the training thread has returned."""
        if not self.active:
            return True
        if self.quitting:
            self.out.log_line("Still waiting for the trainer to finish its batch…")
            return False
        self.quitting = True
        self.queue.halt()
        self.out.log_line("Stopping the run before quitting (the finished epochs are kept)…")
        return False

    # ---- resume ---------------------------------------------------------------
    def unresumable(self, view: RunView) -> str | None:
        """Why the table's run cannot be resumed (None: it can be tried)."""
        if view.status in ("queued", "running"):
            return f"{view.label} is {view.status}; it cannot be resumed."
        if not view.run_dir:
            return f"{view.label} has no record to resume (it never started); start it again (s)."
        return None

    def resume(self, view: RunView) -> bool:
        """Queue the run to carry on from its record (or say why not); True: a thread must start."""
        problem = resume_problem(read_run(view.run_dir), CONSOLE_WORDS)
        try:
            if problem:
                raise RecordError(problem)
            config, experiment, name = resume_config(view.run_dir)
        except (RecordError, ConfigError) as e:
            self.refuse(str(e))
            return False
        view.status, view.message, view.cause, view.config = "queued", "", "", config.to_dict()
        view.past = False  # training here now
        self.relabel()
        self.out.log_line(f"Resuming [b]{escape(view.label)}[/] ({len(view.metrics)} epoch(s) on record).")
        return self.enqueue([Job(key=view.key, name=name, experiment=experiment, config=config,
                                 resume_dir=view.run_dir)])

    # ---- trainer events -------------------------------------------------------
    def apply(self, key: str, event) -> None:
        """One core event of the run `key` (trained here or followed): its row, curves and log."""
        view = self.views.get(key)
        if view is None:
            return
        if isinstance(event, BatchProgress):  # drawn by the timer: every redraw costs the trainer GIL time
            self.progress.pop(view.key, None)  # to the end: the line shows the run that moved last
            self.progress[view.key] = (view, event)
            if event.train_loss is not None:  # the epoch's running loss: a partial segment in the charts
                self.views.colour(view)
                view.live = (event.epoch, event.train_loss)
                self.charts_dirty = True
            return
        if isinstance(event, RunStarted):
            self.started(view, event)
        elif isinstance(event, EpochDone):
            self.views.colour(view)
            view.metrics.append(event.metrics)
            view.live = None
            if view.key in self.timing:
                self.timing[view.key][2] = self.clock()
            self.tick(view)
            self.charts_dirty = True
        elif isinstance(event, RunNote):  # what the placement says of it, e.g. a Ray retry
            self.out.log_line(f"[b]{escape(view.label)}[/]: {escape(event.message)}")
        elif isinstance(event, RunEnded):
            self.ended(view, event)
        self.out.show_row(view)

    def started(self, view: RunView, event: RunStarted) -> None:
        self.tick(view)
        view.status, view.run_dir, view.epochs = "running", event.run_dir, event.epochs
        if event.precision:  # as recorded (auto resolved), so its group is the one compare finds
            view.config = {**view.config, "precision": event.precision}
        view.metrics = [m for m in view.metrics if m["epoch"] < event.first_epoch]  # as on disk now
        now = self.clock()
        self.timing[view.key] = [now, view.time, now]
        self.relabel()
        how = f"resumed at epoch {event.first_epoch}" if event.first_epoch > 1 else "started"
        where = "" if view.prefix else f" ({escape(event.experiment)})"
        self.out.log_line(f"[b]{escape(view.label)}[/]{where} {how} on {event.device}.")

    def tick(self, view: RunView) -> None:
        """The running run's time column: its time when it started here, plus the time since."""
        if view.key in self.timing:
            started, base, _ = self.timing[view.key]
            view.elapsed = max(view.elapsed, base + self.clock() - started)

    def ended(self, view: RunView, event: RunEnded) -> None:
        self.tick(view)
        view.status, view.cause = event.status, event.cause
        view.run_dir = event.run_dir or view.run_dir
        view.message = for_console(event)
        view.live = None
        self.progress.pop(view.key, None)
        if self.timing.pop(view.key, None) is not None and not self.timing:
            self.out.progress_idle()
        self.relabel()
        style = {"finished": "green", "stopped": "yellow"}.get(event.status, "red")
        self.out.log_line(f"[b]{escape(view.label)}[/]: [{style}]{escape(ended_text(event.status, view.message))}[/]")
        config = RunConfig(**view.config) if view.config else None
        if config is not None and data_missing(config, event):
            rerun = [(Job(key=v.key, name=v.name, experiment=v.experiment, config=RunConfig(**v.config),
                          group=v.group or None), v.recipe)
                     for v in self.views if v.key == view.key or v.status == "queued"]
            self.data_failure = (event.message, rerun)

    def training_ended(self, error: BaseException | None, latest: bool) -> None:
        """The training thread returned (`error`: it raised, a bug); `latest`: it is the thread
        that trains the queue now. Runs it left without an end are marked failed or skipped."""
        if error is not None:  # a bug in the trainer: say so, keep the app up
            self.out.log_line(f"[red]internal error in the training thread:[/] {type(error).__name__}: "
                              f"{escape(str(error))}")
            for view in self.views:
                if view.key in self.timing and not self.follows(view.key):
                    view.status = "failed"
                    self.out.show_row(view)
        if not latest:  # an earlier thread; a newer one trains the queue
            return
        for view in self.views:  # what the thread left without an end (followed runs are not its)
            if self.follows(view.key):
                continue
            self.timing.pop(view.key, None)
            if view.status == "running" or (view.status == "queued" and not self.in_queue(view.key)):
                view.status = "skipped" if view.status == "queued" else "failed"
                self.out.show_row(view)
        self.active = False
        self.stop_pressed = False
        self.out.progress_idle()
        self.charts_dirty = True

    def synthetic_reruns(self) -> list[tuple[str, list[tuple[Job, Recipe]]]]:
        """The runs CIFAR-10's absence failed or skipped, again on synthetic data: (experiment,
        jobs) in order, each named as `s` would name it."""
        jobs = self.data_failure[1] if self.data_failure else []
        return [(experiment, [again(j, recipe or Recipe(j.group or j.name, j.config, j.config), dataset="synthetic")
                              for j, recipe in jobs if j.experiment == experiment])
                for experiment in dict.fromkeys(j.experiment for j, _ in jobs)]

    # ---- what the timer draws ---------------------------------------------------
    def progress_line(self) -> tuple | None:
        """The progress line's arguments for the run that moved last (EpochProgress.advance);
        None: no run moved since the last redraw."""
        if not self.progress:
            return None
        _, (view, event) = self.progress.popitem()
        self.progress.clear()
        left, all_left = self.eta(view, event)
        return view.label, event.epoch, view.epochs, event.batch, event.batches, event.phase == "eval", left, all_left

    def tick_all(self) -> None:
        """Every running run's time column, moved on to now."""
        for key in list(self.timing):
            if view := self.views.get(key):
                self.tick(view)
                self.out.show_row(view)

    def take_charts(self) -> bool:
        """Whether the charts need a redraw (they are then taken as drawn)."""
        dirty, self.charts_dirty = self.charts_dirty, False
        return dirty

    def eta(self, view: RunView, event: BatchProgress) -> tuple[float | None, float | None]:
        """Seconds left in the running run and in the whole queue (None: unknown / nothing queued),
        from the epoch times measured so far."""
        elapsed = self.clock() - self.timing.get(view.key, [0.0, 0.0, self.clock()])[2]
        epoch_s = epoch_seconds(view.metrics, elapsed, event.batch, event.batches)
        if epoch_s is None:
            return None, None
        left = run_left(epoch_s, elapsed, view.epochs - event.epoch)
        pending = [] if self.follows(view.key) else self.queue.pending()
        if not pending:
            return left, None
        return left, left + queue_left(epoch_s, view.config, pending,
                                       lambda job: len(self.views.get(job.key).metrics))

    # ---- views --------------------------------------------------------------------
    def drawn(self) -> list[RunView]:
        """The runs the charts draw: not hidden, past the `/` filter, and with something to draw (a colour)."""
        return [v for v in self.views if v.overlay and v.colour is not None and self.shown(v)]

    def relabel(self) -> None:
        """Runs came, went or started: every row's label and settings may change."""
        self.views.relabel()
        for view in self.views:
            self.out.show_row(view)
        self.charts_dirty = True

    def mark_charts(self) -> None:
        """Something the charts draw changed: the timer redraws them."""
        self.charts_dirty = True

    def toggle(self, what: str) -> None:
        """m, l, e: smoothing, log y, each seed on its own."""
        setattr(self, what, not getattr(self, what))
        self.out.log_line({
            "smoothing": f"Smoothing {'on (EMA 0.6)' if self.smoothing else 'off'}.",
            "log_y": f"Log y {'on' if self.log_y else 'off'}.",
            "seeds_shown": "Each seed drawn on its own." if self.seeds_shown
            else "Groups of seeds drawn as their mean and min–max spread."}[what])
        self.charts_dirty = True

    def hide(self, key: str | None) -> None:
        """d: hide the run's curves, or show them again; its row stays (○ while hidden)."""
        view = self.views.get(key) if key else None
        if view is None:
            self.out.log_line("No run in the table to hide.")
            return
        view.overlay = not view.overlay
        self.out.show_row(view)
        self.charts_dirty = True
        if view.overlay:
            self.out.log_line(f"[b]{escape(view.label)}[/] is drawn in the charts again.")
        else:
            self.out.log_line(f"[b]{escape(view.label)}[/] is hidden from the charts (○); d again shows it.")
