"""What the console knows about one run it shows: its config, status and epoch rows.

Plain Python (no Textual) so the tests can check it directly. The app keeps
one RunView per table row and per overlaid curve.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from core.curves import smooth  # noqa: F401  (the charts' smoothing: TensorBoard's, one implementation)
from core.groups import key_of
from core.records import RunInfo, free_folder, safe_name
from tui.confdiff import changes, describe

# xterm-256 colour indices: shown exactly in a 256-colour terminal and in truecolor, far
# apart in hue so overlaid curves stay distinguishable, and no grey (the axes' colour).
PALETTE = (33, 208, 40, 197, 141, 220, 51, 130, 213, 165)
PAST_MARK = " (past)"
LIVE_MARK = " (live)"  # followed: another process trains it


@dataclass
class RunView:
    key: str
    name: str                  # the name the run was started under (its folder may add -2, -3...)
    experiment: str
    colour: int | None = None  # given when the run first has something to draw, kept for life
    config: dict = field(default_factory=dict)
    status: str = "queued"     # queued | running | finished | stopped | failed | diverged | ...
    epochs: int = 0            # epochs the run asks for
    metrics: list = field(default_factory=list)
    message: str = ""
    run_dir: str = ""
    past: bool = False         # opened from the log dir rather than started here
    followed: bool = False     # written by another process (a headless run, a worker); the console follows it
    overlay: bool = True       # drawn in the charts (`d` and the compare screen toggle it)
    cause: str = ""            # why a failed run failed: data | record | disk | oom | internal
    live: tuple[int, float] | None = None  # (epoch in progress, its running train loss); None between epochs
    elapsed: float = 0.0       # seconds shown in the time column: only ever grows
    folder: str = ""           # the run folder's name: on disk, or the one it will most likely get
    prefix: str = ""           # "experiment/" while runs of two experiments are on screen
    settings: str = ""         # how its config differs from its experiment's first run: "lr 0.01, sgd"
    group: str = ""            # the run it repeats over seeds (its job's or record's group); "": its name
    recipe: object = None      # the tui.recipes.Recipe it was started from here (None: opened or resumed)
    place: object = None       # where it trains (tui.queuerows.Place), from its RunStarted
    progress: object = None    # its latest core.events.BatchProgress while it runs

    @property
    def label(self) -> str:
        """The one name this run goes by in the table, the legend, compare and the log:
        its run folder's name, unique on screen (see Views.relabel)."""
        return (self.prefix + (self.folder or self.name) + (PAST_MARK if self.past else "")
                + (LIVE_MARK if self.followed else ""))

    @property
    def group_key(self) -> tuple:
        """Its group, as core.groups keys a record (the run's own name when it has no group name)."""
        return key_of(self.experiment, self.group or self.name, self.config)

    @property
    def last(self) -> dict:
        return self.metrics[-1] if self.metrics else {}

    @property
    def best(self) -> tuple[float, int] | None:
        """Best test accuracy and the epoch it was reached."""
        rows = [m for m in self.metrics if "test_acc" in m]
        if not rows:
            return None
        top = max(rows, key=lambda m: m["test_acc"])
        return top["test_acc"], top["epoch"]

    @property
    def seconds(self) -> float:
        return sum(m.get("seconds", 0.0) for m in self.metrics)

    @property
    def time(self) -> float:
        """Seconds trained, as the table shows them: never less than the epochs on record."""
        return max(self.elapsed, self.seconds)

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        rows = [m for m in self.metrics if metric in m]
        return [m["epoch"] for m in rows], [m[metric] for m in rows]


class Views:
    """The runs on screen, in order. Each gets a colour once it has something to draw and
    keeps it while the console is open; runs that never start take none."""

    def __init__(self, logdir: str | None = None):
        self.logdir = logdir  # to foresee the folder a queued run will get
        self._views: dict[str, RunView] = {}
        self._keys = itertools.count(1)
        self._given = 0  # colours handed out so far

    def __iter__(self):
        return iter(list(self._views.values()))

    def __len__(self):
        return len(self._views)

    def get(self, key: str) -> RunView | None:
        return self._views.get(key)

    def add(self, name: str, experiment: str, **fields) -> RunView:
        key = f"r{next(self._keys)}"
        view = RunView(key, name, experiment, **fields)
        self._views[key] = view
        if view.metrics:
            self.colour(view)
        self.relabel()
        return view

    def add_past(self, info: RunInfo) -> RunView | None:
        """A run folder read from disk; None if it is already on screen."""
        path = str(info.path)
        if any(v.run_dir == path for v in self):
            return None
        return self.add(info.path.name, info.experiment, config=info.config, status=info.status,
                        epochs=int(info.config.get("epochs", 0) or 0), metrics=list(info.metrics),
                        message=info.message, cause=info.cause, run_dir=path, past=True,
                        group=info.group)

    def remove(self, key: str) -> None:
        self._views.pop(key, None)
        self.relabel()

    def colour(self, view: RunView) -> int:
        """The run's colour, given now if it has none: the palette in order, so the first
        runs that draw get the most distinct colours, whatever failed or was skipped. The seeds
        of a group (tui.groupview) share the colour its first seed got."""
        if view.colour is None:
            mates = [v for v in self if v is not view and v.colour is not None and v.group_key == view.group_key]
            if mates and all(v.config.get("seed") != view.config.get("seed") for v in mates):
                view.colour = mates[0].colour
                return view.colour
            view.colour = PALETTE[self._given % len(PALETTE)]
            self._given += 1
        return view.colour

    def relabel(self) -> None:
        """Give every run its label and settings text; call after runs come, go or start.

        A run that has started is named by its folder; a queued one by the folder promised to
        it when it was queued (core.records.free_folder: the next free `name`, `name-2`, ... on
        disk and on screen), which the trainer then makes (tui.app passes it on), so the row's
        name is the folder's from the start. A run that ended without a folder keeps its name:
        it draws nothing and its status says why."""
        experiments = {v.experiment for v in self}
        claimed: dict[str, set[str]] = {}
        waiting = {v.key for v in self if not v.run_dir and v.status in ("queued", "running")}
        for v in self:
            if v.run_dir:
                v.folder = Path(v.run_dir).name
            elif v.key not in waiting or not v.folder:
                continue
            claimed.setdefault(v.experiment, set()).add(v.folder)
        for v in self:
            if v.run_dir:
                continue
            if v.key in waiting:
                if not v.folder:  # promised once, in queue order, and kept
                    v.folder = self._free_folder(v, claimed.setdefault(v.experiment, set()))
            else:  # ended without a record (failed before it began, skipped): nothing to tell apart
                v.folder = safe_name(v.name)
        first: dict[str, dict] = {}
        for v in self:
            v.prefix = f"{v.experiment}/" if len(experiments) > 1 else ""
            base = first.setdefault(v.experiment, v.config)
            v.settings = "" if base is v.config else describe(changes(base, v.config))

    def _free_folder(self, view: RunView, claimed: set[str]) -> str:
        parent = Path(self.logdir, safe_name(view.experiment)) if self.logdir else None
        folder = free_folder(parent, view.name, claimed)
        claimed.add(folder)
        return folder
