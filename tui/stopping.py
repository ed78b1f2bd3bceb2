"""What `x` and `X` stop: one run, or a whole writer or study.

`x` stops the run on the selected row, wherever it trains: this console's thread (its stop
flag), a worker process or a Ray task this console placed, or another process that the
console follows (a stop request in the run folder, core.stoprequest: that process goes on
with its queue). On a queued row it takes that run off the queue. Pressed again before new
runs are queued, it also clears this console's queue.

`X` asks first (y/n), then stops a whole writer: the followed process whose run is selected
(SIGTERM, this host only: its queue ends too), else everything this console trains (its
queue and the runs it placed). The log line says which, and how many queued runs will not start.

The policy (x again, a queued row, the counts and sentences) is the console model's
(tui.consolemodel); this module asks other processes (stop requests, signals) and the user.
"""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from core.follow import owner_text, signal_writer, writer_text
from core.ray_executor import RayExecutor
from core.records import is_locked, lock_owner
from core.stoprequest import request
from tui.consolemodel import plural
from tui.runview import LIVE_MARK
from tui.screens.confirm import ConfirmScreen


class Stopping:
    """The stop keys of one app (UI thread only)."""

    def __init__(self, app) -> None:
        self.app = app

    @property
    def following(self) -> bool:
        return bool(self.app.following.followers)

    # ---- x: one run -----------------------------------------------------------
    def one(self, key: str | None) -> None:
        app, model = self.app, self.app.model
        view = app.views.get(key) if key else None
        if view is not None and app.following.follows(key):
            app.log_line(self._followed(view))
        elif model.take_off(key):
            return
        elif app.placed:
            self._placed(view)
        else:
            model.stop_here(self.following)

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

    def _placed(self, view) -> None:
        """A worker process or a Ray task of this console: a stop request in its run folder."""
        app = self.app
        mine = [v for v in app.model.mine() if v.status == "running"]
        if view is None or all(v.key != view.key for v in mine):
            if len(mine) != 1:
                app.log_line(app.model.which(len(mine), self.following))
                return
            view = mine[0]
        where = "a Ray task" if isinstance(app.executor, RayExecutor) else "a worker process"
        try:
            request(view.run_dir)
        except OSError as e:
            app.log_line(f"[red]Could not stop {escape(view.label)}:[/] {escape(view.run_dir)} cannot be written "
                         f"({escape(e.strerror or str(e))}); X stops everything this console trains.")
            return
        app.model.told(f"{escape(view.label)} ({where}; the others go on)", False)

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
            app.log_line(app.model.idle_sentence("X", self.following))
            return
        running, queued = app.model.counts()
        question = (f"Stop everything this console trains? {plural(running, 'running run')} "
                    f"{'stops' if running == 1 else 'stop'} at the end of this batch; "
                    f"{plural(queued, 'queued run')} will not start.")
        app.push_screen(ConfirmScreen("Stop the whole study?", question, "Stop all"),
                        lambda yes: app.model.stop_study(self.following) if yes else self._kept())

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
