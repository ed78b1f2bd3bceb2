"""What `x` and `X` stop: one run, or a whole writer or study.

`x` stops the run on the selected row, wherever it trains: this console's thread (its stop
flag), a worker process or a Ray task this console placed, or another process that the
console follows (a stop request in the run folder, core.stoprequest: that process goes on
with its queue). On a queued row it takes that run off the queue. Pressed again before new
runs are queued, it also clears this console's queue.

`X` asks first (y/n), then stops a whole writer: the followed process whose run is selected
(SIGTERM, this host only: its queue ends too), else everything this console trains (its
queue and the runs it placed). The log line says which, and how many queued runs will not start.
"""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from core.follow import owner_text, signal_writer, writer_text
from core.ray_executor import RayExecutor
from core.records import is_locked, lock_owner
from core.stoprequest import request
from tui.runview import LIVE_MARK
from tui.screens.confirm import ConfirmScreen


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class Stopping:
    """The stop keys of one app (UI thread only)."""

    def __init__(self, app) -> None:
        self.app = app

    # ---- x: one run -----------------------------------------------------------
    def one(self, key: str | None) -> None:
        app = self.app
        view = app.views.get(key) if key else None
        if view is not None and app.following.follows(key):
            app.log_line(self._followed(view))
        elif view is not None and view.status == "queued" and app.queue.remove(key) is not None:
            app.views.remove(key)
            app.table.drop(key)
            app._relabel()
            app.log_line(f"Took {escape(view.label)} off the queue; it will not start.")
        elif app.placed:
            self._placed(view)
        else:
            self._in_thread()

    def _followed(self, view) -> str:
        """A stop request in the folder of a run another process trains: that run only."""
        path, label = Path(view.run_dir), escape(view.label.removesuffix(LIVE_MARK))
        if not is_locked(path):
            return f"{label} is not being written now; nothing to stop."
        try:
            request(path)
        except OSError as e:
            return (f"[red]Could not ask for a stop of {label}:[/] {escape(str(path))} cannot be written "
                    f"({escape(e.strerror or str(e))}); X stops its whole process instead.")
        return (f"Stopping {label} (another process, {escape(owner_text(lock_owner(path)))}); "
                "that process goes on with its queue.")

    def _in_thread(self) -> None:
        """This console's own thread trains one run at a time: its stop flag."""
        app = self.app
        job, stop = app.queue.training()
        if not app.running or job is None:
            app.log_line(self._idle("x"))
            return
        stopping = stop.is_set()
        stop.set()
        self._told(f"{escape(app.views.get(job.key).label)} (this console)", stopping)

    def _placed(self, view) -> None:
        """A worker process or a Ray task of this console: a stop request in its run folder."""
        app = self.app
        mine = [v for v in app.views if v.status == "running" and not app.following.follows(v.key)]
        if view is None or all(v.key != view.key for v in mine):
            if len(mine) != 1:
                app.log_line(self._which(len(mine)))
                return
            view = mine[0]
        where = "a Ray task" if isinstance(app.executor, RayExecutor) else "a worker process"
        try:
            request(view.run_dir)
        except OSError as e:
            app.log_line(f"[red]Could not stop {escape(view.label)}:[/] {escape(view.run_dir)} cannot be written "
                         f"({escape(e.strerror or str(e))}); X stops everything this console trains.")
            return
        self._told(f"{escape(view.label)} ({where}; the others go on)", False)

    def _idle(self, key: str) -> str:
        if self.app.following.followers:
            return f"Nothing is running here; to stop a run followed live, select its row (t, ↑↓), then {key}."
        return "Nothing is running."

    def _which(self, running: int) -> str:
        """Why x on this row stops nothing, when this console's runs train elsewhere."""
        if not self.app.running:
            return self._idle("x")
        if not running:
            return "No run has started yet; X stops everything this console trains."
        return f"{plural(running, 'run')} train here: select the one to stop (t, ↑↓), then x; X stops them all."

    def _told(self, label: str, stopping: bool) -> None:
        """The log line of x; x again (nothing queued since) clears the queue too."""
        app = self.app
        if app._stop_pressed:
            dropped = app._clear_queue()
            what = (f"cleared the queue ({plural(dropped, 'run')} not started)" if dropped
                    else "nothing else was queued")
            app.log_line(f"{what[0].upper()}{what[1:]}." if stopping else
                         f"Stopping {label} at the end of this batch; {what}.")
            return
        app._stop_pressed = True
        waiting = len(app.queue.pending())
        more = f" {plural(waiting, 'run')} still queued: x again clears the queue too." if waiting else ""
        app.log_line(f"Stopping {label} at the end of this batch…{more}")

    # ---- X: a whole writer, or this console's study -----------------------------
    def ask_all(self, key: str | None) -> None:
        app = self.app
        view = app.views.get(key) if key else None
        if view is not None and app.following.follows(key):
            owner = writer_text(lock_owner(view.run_dir))
            label = view.label.removesuffix(LIVE_MARK)
            question = (f"Stop the whole process {owner}? Its run {label} stops at the end of its batch, "
                        f"and the runs it has queued will not start. (x stops {label} only.)")
            app.push_screen(ConfirmScreen("Stop the whole process?", question, "Stop it"),
                            lambda yes: self._writer(view, owner) if yes else self._kept())
            return
        if not app.running:
            app.log_line(self._idle("X"))
            return
        running, queued = self._counts()
        question = (f"Stop everything this console trains? {plural(running, 'running run')} "
                    f"{'stops' if running == 1 else 'stop'} at the end of this batch; "
                    f"{plural(queued, 'queued run')} will not start.")
        app.push_screen(ConfirmScreen("Stop the whole study?", question, "Stop all"),
                        lambda yes: self._study() if yes else self._kept())

    def _kept(self) -> None:
        self.app.log_line("Nothing stopped.")

    def _writer(self, view, owner: str) -> None:
        refusal = signal_writer(view.run_dir, whole=True)
        if refusal:
            self.app.log_line(escape(refusal[0].upper() + refusal[1:]))
            return
        label = escape(view.label.removesuffix(LIVE_MARK))
        self.app.log_line(f"Stopping the whole process {escape(owner)}: {label} stops at the end of its batch; "
                          "the runs it has queued will not start.")

    def _counts(self) -> tuple[int, int]:
        """(this console's running runs, its runs queued or waiting for a worker)."""
        mine = [v for v in self.app.views if not self.app.following.follows(v.key)]
        return sum(v.status == "running" for v in mine), sum(v.status == "queued" for v in mine)

    def _study(self) -> None:
        app = self.app
        if not app.running:  # it ended while the question was open
            app.log_line(self._idle("X"))
            return
        running, queued = self._counts()  # now: the question may have been open a while
        app._clear_queue()
        app.queue.halt()
        app._stop_pressed = True
        app.log_line(f"Stopping the whole study here: {plural(running, 'running run')} "
                     f"{'stops' if running == 1 else 'stop'} at the end of this batch; "
                     f"{plural(queued, 'queued run')} will not start.")
