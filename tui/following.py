"""Runs that another process writes (a headless `cifar-tui run`, a console that hung up),
shown live in this console.

A core Follower per run folder turns the folder into the trainer's events; a timer on
the main thread polls them (a few stat calls each) and hands the events to the app's
`on_trainer_event`, so a followed run is drawn exactly like one trained here.
"""
from __future__ import annotations

from rich.markup import escape

from core.follow import Follower, FollowError, live_runs, owner_text, stop_writer
from core.records import RecordError, lock_owner, read_run
from tui.messages import TrainerEvent

FOLLOW_S = 0.25  # how often followed folders are read
SCAN_EVERY = 4    # polls between looks for the next run of a followed writer (its queue goes on)


class Following:
    """The followed runs of one app, by view key."""

    def __init__(self, app) -> None:
        self.app = app
        self.followers: dict[str, Follower] = {}
        self.writers: set[tuple] = set()  # (host, pid) of the processes followed: their next runs are followed too
        self._polls = 0

    def start(self) -> None:
        self.app.set_interval(FOLLOW_S, self.poll)

    def live(self) -> list:
        """(RunInfo, owner) of the runs under the log dir written right now and not on screen."""
        shown = {v.run_dir for v in self.app.views}
        return [(read_run(path), owner) for path, owner in live_runs(self.app.logdir) if str(path) not in shown]

    def follows(self, key: str | None) -> bool:
        return key in self.followers

    def add(self, path) -> None:
        """Follow the run in `path` from its first epoch; a folder that cannot be followed: one sentence."""
        app = self.app
        try:
            follower = Follower(path)
        except (FollowError, RecordError) as e:
            app.log_line(f"[red]Not followed:[/] {escape(str(e))}")
            return
        info, owner = read_run(path), lock_owner(path)
        if owner:
            self.writers.add((owner.get("host"), owner.get("pid")))
        view = app.views.add(info.path.name, info.experiment, config=info.config, status="running",
                             epochs=follower.epochs, run_dir=str(path), group=info.group, followed=True)
        self.followers[view.key] = follower
        app._relabel()  # its row, at once
        app.log_line(f"Following [b]{escape(view.label)}[/], written by {escape(owner_text(owner))}.")

    def poll(self) -> None:
        """Timer: pass on each followed run's new events; an ended run is followed no more.
        A followed writer's next run (a queue) is followed as it starts."""
        self._polls += 1
        if self.writers and self._polls % SCAN_EVERY == 0:
            for info, owner in self.live():
                if owner and (owner.get("host"), owner.get("pid")) in self.writers:
                    self.add(info.path)
        for key, follower in list(self.followers.items()):
            try:
                events = follower.poll()
            except (OSError, RecordError) as e:  # the folder vanished mid-read: the next poll says so
                self.app.log(f"follow {follower.path}: {e}")
                continue
            if follower.done:  # its end is among these events: drawn and logged as this console's own
                del self.followers[key]
                if view := self.app.views.get(key):
                    view.followed = False
            for event in events:
                self.app.on_trainer_event(TrainerEvent(key, event))

    def stop(self, key: str) -> str:
        """x on a followed run: ask its writer to stop it (this host), or say where to."""
        return stop_writer(self.followers[key].path)

