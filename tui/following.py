"""Runs that another process writes (a headless `cifar-tui run`, a console that hung up),
shown live in this console.

A core Follower per run folder turns the folder into the trainer's events. A worker
thread polls them (a few stat calls each) and, for a followed writer, looks under the
log dir for its next run: that file I/O stays off the UI's event loop, where a slow
(shared, NFS) log dir would freeze the screen. The thread never touches a widget: it
posts each event as the TrainerEvent message the training thread posts, so a followed
run is drawn exactly like one trained here, and a writer's next run as a FollowFound.
"""
from __future__ import annotations

import threading

from rich.markup import escape
from textual.message import Message
from textual.worker import get_current_worker

from core.follow import Follower, FollowError, live_runs, owner_text
from core.records import RecordError, lock_owner, read_run
from tui.messages import TrainerEvent

FOLLOW_S = 0.25  # how often followed folders are read
SCAN_EVERY = 4    # polls between looks for the next run of a followed writer (its queue goes on)


class FollowFound(Message):
    """The worker found a followed writer's next run: `opened` is (Follower, RunInfo, owner),
    or `error` says why it cannot be followed."""

    def __init__(self, path: str, opened: tuple | None, error: str = "") -> None:
        super().__init__()
        self.path, self.opened, self.error = path, opened, error


def open_run(path) -> tuple:
    """(Follower, RunInfo, lock owner) of a run folder; FollowError/RecordError: cannot be followed."""
    follower = Follower(path)
    return follower, read_run(path), lock_owner(path)


class Following:
    """The followed runs of one app, by view key. The UI thread adds and forgets them; the
    worker thread only polls (under `_lock`, a snapshot of who is followed)."""

    def __init__(self, app) -> None:
        self.app = app
        self.followers: dict[str, Follower] = {}
        self.writers: set[tuple] = set()  # (host, pid) of the processes followed: their next runs are followed too
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # set on quit: the worker ends within one FOLLOW_S
        self.ended = threading.Event()  # set once the worker has returned
        self._found: set[str] = set()  # worker's own: run folders already handed to the app

    def start(self) -> None:
        self.app.run_worker(self._watch, thread=True, exit_on_error=False, group="following",
                            description="following")

    def close(self) -> None:
        self._stopped.set()

    def live(self) -> list:
        """(RunInfo, owner) of the runs under the log dir written right now and not on screen."""
        shown = {v.run_dir for v in self.app.views}
        return [(read_run(path), owner) for path, owner in live_runs(self.app.logdir) if str(path) not in shown]

    def offer(self) -> None:
        """At start-up: runs under the log dir that other processes write now, offered to follow."""
        from tui.screens.dialogs import PastRunsScreen

        app, live = self.app, self.live()
        if not live:
            return
        app.log_line(f"{len(live)} run{'s' * (len(live) > 1)} under {escape(app.logdir)} "
                     f"{'are' if len(live) > 1 else 'is'} training in another process; o follows "
                     f"{'them' if len(live) > 1 else 'it'} live.")

        def chosen(paths: list | None) -> None:
            for path in paths or []:
                self.add(path)

        app.push_screen(PastRunsScreen([info for info, _ in live], app.logdir, preselect=True,
                                       title=f"Training now under {app.logdir}: follow live?"), chosen)

    def follows(self, key: str | None) -> bool:
        return key in self.followers

    def add(self, path) -> None:
        """Follow the run in `path` from its first epoch; a folder that cannot be followed: one sentence."""
        try:
            opened = open_run(path)
        except (FollowError, RecordError) as e:
            self.app.log_line(f"[red]Not followed:[/] {escape(str(e))}")
            return
        self._show(*opened)

    def found(self, message: FollowFound) -> None:
        """UI thread: the worker's find, unless the run is on screen by now (this console's own)."""
        if message.error:
            self.app.log_line(f"[red]Not followed:[/] {escape(message.error)}")
        elif message.path not in {v.run_dir for v in self.app.views}:
            self._show(*message.opened)

    def _show(self, follower: Follower, info, owner: dict | None) -> None:
        app = self.app
        view = app.views.add(info.path.name, info.experiment, config=info.config, status="running",
                             epochs=follower.epochs, run_dir=str(follower.path), group=info.group, followed=True)
        with self._lock:
            if owner:
                self.writers.add((owner.get("host"), owner.get("pid")))
            self.followers[view.key] = follower
        app.model.relabel()  # its row, at once
        app.log_line(f"Following [b]{escape(view.label)}[/], written by {escape(owner_text(owner))}.")

    def forget(self, view) -> None:
        """UI thread, before a run's end is drawn: a followed run's end is drawn and logged as this
        console's own, and it is followed no more."""
        with self._lock:
            if self.followers.pop(view.key, None) is not None:
                view.followed = False

    def _watch(self) -> None:
        """Worker thread: poll until the app quits (unmounted, or its workers cancelled however it ended)."""
        worker, passes = get_current_worker(), 0
        try:
            while not self._stopped.wait(FOLLOW_S) and not worker.is_cancelled:
                passes += 1
                if passes % SCAN_EVERY == 0:
                    self._scan()
                self._poll()
        finally:
            self.ended.set()

    def _scan(self) -> None:
        """A followed writer's next run (a queue) is followed as it starts."""
        with self._lock:
            writers = set(self.writers)
            seen = self._found | {str(f.path) for f in self.followers.values()}
        if not writers:
            return
        for path, owner in live_runs(self.app.logdir):
            if owner and (owner.get("host"), owner.get("pid")) in writers and str(path) not in seen:
                self._found.add(str(path))
                try:
                    self.app.post_message(FollowFound(str(path), open_run(path)))
                except (FollowError, RecordError) as e:
                    self.app.post_message(FollowFound(str(path), None, str(e)))

    def _poll(self) -> None:
        """Pass on each followed run's new events (an ended one has none)."""
        with self._lock:
            followed = [(key, f) for key, f in self.followers.items() if not f.done]
        for key, follower in followed:
            try:
                events = follower.poll()
            except (OSError, RecordError) as e:  # the folder vanished mid-read: the next poll says so
                self.app.log(f"follow {follower.path}: {e}")
                continue
            for event in events:
                self.app.post_message(TrainerEvent(key, event))
