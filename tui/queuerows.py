"""The queue view's content: every running, queued, followed and planned run with where it
trains, how far it is, and the time left for it and for the whole study.

How time left is estimated:
- a running run: its epoch time (the mean of its latest epochs, or its first epoch's batches so far
  extrapolated; tui.widgets.progress.epoch_seconds) times the epochs it has left, less the part of
  this epoch already done;
- a run not started yet: its epochs times the time one training image took in the runs measured
  so far on the same data set (the mean over those runs of epoch seconds / images), times its own
  share of the data; unknown until some run of that data set has a measured epoch;
- the study: runs train in lanes side by side: this console (its --parallel width, or as many Ray
  tasks as run at once) and each other process followed (one at a time). A lane needs the larger
  of its runs' time left divided by its width and its longest run; the study needs its slowest lane.

Plain Python over RunView (no Textual), so the tests drive it directly.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from statistics import fmean

from core.events import RunStarted
from tui.eta import RECENT_EPOCHS, epoch_seconds, run_left

HERE = "this console"
ORDER = {"running": 0, "queued": 1, "planned": 2}


@dataclass(frozen=True)
class Place:
    """Where a run trains: this console's thread, one of its --parallel workers, a Ray node, or
    another process (a followed run: its lock's writer)."""
    kind: str          # here | worker | ray | process
    device: str = ""
    host: str = ""
    pid: int = 0
    worker: int = 0
    node: str = ""

    @property
    def lane(self) -> str:
        """Runs of one lane share its width: this console's (thread, workers, Ray) or a process's."""
        return f"pid {self.pid} on {_host(self.host)}" if self.kind == "process" else HERE


def place_of(event: RunStarted, followed: bool) -> Place:
    kind = "ray" if event.node else "worker" if event.worker else "process" if followed else "here"
    return Place(kind, event.device, event.host, event.pid, event.worker, event.node)


def where_text(place: Place | None, this_host: str | None = None) -> str:
    """`this console · cpu`, `worker 2 · cuda:1`, `Ray 3f2a1b4c (10.0.0.7) · cuda:0`, `pid 812 · gpu-box`."""
    if place is None:
        return ""
    device = f" · {place.device}" if place.device else ""
    if place.kind == "worker":
        return f"worker {place.worker}{device}"
    if place.kind == "ray":
        return f"Ray {place.node}{device}"
    if place.kind == "process":
        return f"pid {place.pid or '?'} · {_host(place.host, this_host)}{device}"
    return f"{HERE}{device}"


def _host(host: str, this_host: str | None = None) -> str:
    return host if host and host != (this_host or socket.gethostname()) else "this host"


@dataclass(frozen=True)
class QueueRow:
    key: str
    label: str
    state: str             # running | queued | planned
    where: str
    lane: str              # whose width it shares (Place.lane); "" for planned runs nobody trains
    done: float            # fraction of the run done (epochs and the batches of this one)
    epoch: int             # the epoch in progress (running), else the epochs on record
    epochs: int
    left: float | None     # seconds left (None: not known yet)
    settings: str = ""
    test_acc: float | None = None
    colour: int | None = None  # the run's colour in the charts (None: none yet)
    epoch_s: float | None = None  # seconds an epoch takes (measured or estimated)
    trained: float = 0.0       # seconds trained so far
    kind: str = ""             # a running run's Place.kind: here | worker | ray | process


@dataclass(frozen=True)
class Planned:
    """A run of a study (its study.json) that no row on screen stands for: queued in another
    process, never started, or trained by a process this console does not follow."""
    key: str
    label: str
    config: dict
    lane: str = ""         # the process that will train it, or trains it ("": nobody yet)
    epochs_done: int = 0
    state: str = "planned"  # planned (never started) | queued (another process's queue) | running
    where: str = "never started"


def from_study(study_rows, shown: set[str], owner_of, prefix: str = "") -> list[Planned]:
    """The rows of one study (core.study.rows) the queue view adds to the runs on screen: runs
    another process has queued or trains unfollowed (in its lane), and runs never started.
    `shown`: run folders on screen; `owner_of(path)`: a run folder's writer (core.records.lock_owner).
    This console's own queued runs are on screen already (core.study says `never started` for them)."""
    me = (socket.gethostname(), os.getpid())
    out = []
    for row in study_rows:
        by = (row.planned.by or {}) if row.planned is not None else {}
        if (row.path is not None and str(row.path) in shown) or (by.get("host"), by.get("pid")) == me:
            continue
        key = f"study:{row.path or row.name}"
        name = row.path.name if row.path is not None else row.planned.folder if row.planned is not None else row.name
        config = row.planned.config if row.planned is not None else (row.info.config if row.info else {})
        if row.state == "queued":
            lane = f"pid {by.get('pid')} on {_host(by.get('host', ''))}"
            out.append(Planned(key, prefix + name, config, lane, 0, "queued", f"queued in {lane}"))
        elif row.state == "never started":
            out.append(Planned(key, prefix + name, config))
        elif row.state == "running" and (owner := owner_of(row.path)):
            lane = f"pid {owner.get('pid')} on {_host(owner.get('host', ''))}"
            out.append(Planned(key, prefix + name, config, lane, row.done, "running", f"{lane} (o follows it)"))
    return out


def image_seconds(views) -> dict[str, float]:
    """Per data set: seconds one training image took, the mean over the runs with a measured epoch."""
    rates: dict[str, list[float]] = {}
    for view in views:
        measured = [m["seconds"] for m in view.metrics[-RECENT_EPOCHS:] if m.get("seconds")]
        images = _images(view.config)
        if measured and images:
            rates.setdefault(view.config.get("dataset", ""), []).append(fmean(measured) / images)
    return {dataset: fmean(values) for dataset, values in rates.items()}


def _images(config: dict) -> float:
    return float(config.get("train_fraction") or 0.0)  # a share of the same set: proportional to images


def estimate(config: dict, epochs_left: int, rates: dict[str, float]) -> float | None:
    rate = rates.get(config.get("dataset", ""))
    return None if rate is None else rate * _images(config) * max(epochs_left, 0)


def rows(views, pending: list[str], epoch_elapsed: dict[str, float], planned: list[Planned] = ()) -> list[QueueRow]:
    """The queue view's rows: running runs (here, workers, Ray, then other processes), the queue
    in its order, then planned runs. `epoch_elapsed`: seconds since each running run's epoch began."""
    rates = image_seconds(views)
    order = {key: k for k, key in enumerate(pending)}
    out = []
    for view in views:
        if view.status == "running":
            out.append(_running(view, epoch_elapsed.get(view.key, 0.0)))
        elif view.status == "queued":
            left = estimate(view.config, view.epochs - len(view.metrics), rates)
            where = "queued here" if view.key in order else "starting"  # taken from the queue, not begun yet
            out.append(QueueRow(view.key, view.label, "queued", where, HERE, _fraction(view), len(view.metrics),
                                view.epochs, left, view.settings, colour=view.colour,
                                epoch_s=estimate(view.config, 1, rates), trained=view.time))
    for plan in planned:
        epochs = int(plan.config.get("epochs", 0) or 0)
        out.append(QueueRow(plan.key, plan.label, plan.state, plan.where, plan.lane,
                            plan.epochs_done / epochs if epochs else 0.0, plan.epochs_done, epochs,
                            estimate(plan.config, epochs - plan.epochs_done, rates),
                            epoch_s=estimate(plan.config, 1, rates), kind="process" * (plan.state == "running")))
    place_rank = {"here": 0, "worker": 1, "ray": 2, "process": 3}
    return sorted(out, key=lambda r: (ORDER[r.state], place_rank.get(r.kind, 4), order.get(r.key, 0)))


def _running(view, elapsed: float) -> QueueRow:
    place = view.place or Place("process" if view.followed else "here")
    progress = view.progress
    epoch, batch, batches = len(view.metrics) + 1, 0, 0
    if progress is not None and progress.epoch > len(view.metrics):
        epoch, batch, batches = progress.epoch, progress.batch, progress.batches
    epoch_s = epoch_seconds(view.metrics, elapsed, batch, batches)
    left = None if epoch_s is None else run_left(epoch_s, elapsed, view.epochs - epoch)
    done = (len(view.metrics) + (batch / batches if batches else 0.0)) / view.epochs if view.epochs else 0.0
    last = view.last.get("test_acc")
    return QueueRow(view.key, view.label, "running", where_text(place), place.lane, min(done, 1.0),
                    min(epoch, view.epochs or epoch), view.epochs, left, view.settings, last, view.colour, epoch_s,
                    view.time, place.kind)


def _fraction(view) -> float:
    return len(view.metrics) / view.epochs if view.epochs else 0.0


@dataclass(frozen=True)
class Lane:
    name: str
    runs: int
    width: int
    left: float | None     # seconds until its last run ends (None: none of its runs is timed yet)
    untimed: int           # runs whose time is not known yet (not in `left`)


def lanes(queue: list[QueueRow], widths: dict[str, int]) -> list[Lane]:
    """Each lane's time left: the larger of its runs' sum / its width and its longest run."""
    out = []
    for name in dict.fromkeys([HERE] * any(r.lane == HERE for r in queue) + [r.lane for r in queue if r.lane]):
        members = [r for r in queue if r.lane == name]
        timed = [r.left for r in members if r.left is not None]
        width = max(1, widths.get(name, 1))
        left = max(sum(timed) / width, max(timed)) if timed else None
        out.append(Lane(name, len(members), width, left, len(members) - len(timed)))
    return out


def study_left(all_lanes: list[Lane]) -> float | None:
    """The study's time left: its slowest lane (lanes train side by side)."""
    return max((lane.left for lane in all_lanes if lane.left is not None), default=None)


def summary(all_lanes: list[Lane], finished: int = 0, never: int = 0) -> str:
    """One line: the study's time left and each lane's share; `finished`: runs done on screen,
    `never`: planned runs nobody has started (not in the time left)."""
    unstarted = f" · {never} never started (not counted; r on one of its runs finishes the study)" if never else ""
    if not all_lanes:
        return f"Nothing runs or waits{f' ({finished} finished)' if finished else ''}{unstarted}."
    left = study_left(all_lanes)
    untimed = sum(lane.untimed for lane in all_lanes)
    total = "not known yet (no epoch timed)" if left is None else \
        f"{'≥ ' if untimed else '≈ '}{_duration(left)}"
    parts = [f"{lane.name}: {lane.runs} run{'s' * (lane.runs != 1)}"
             + (f", {lane.width} at a time" if lane.width > 1 else "")
             + ("" if lane.left is None else f", {_duration(lane.left)}") for lane in all_lanes]
    done = f" · {finished} finished" if finished else ""
    return f"Study time left {total}{done} — " + "; ".join(parts) + unstarted


def _duration(seconds: float) -> str:
    from tui.widgets.runs_table import format_duration  # looked up at call time: the tests fix it

    return format_duration(seconds)


def bar(fraction: float, width: int) -> tuple[str, str]:
    """A progress bar in `width` cells: (done part, rest), drawn in two styles by the caller."""
    cells = max(0, min(width, round(fraction * width)))
    return "━" * cells, "━" * (width - cells)
