"""What the console knows about one run it shows: its config, status and epoch rows.

Plain Python (no Textual) so the tests can check it directly. The app keeps
one RunView per table row and per overlaid curve.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from core.compare import smooth  # noqa: F401  (the charts' smoothing: TensorBoard's, one implementation)
from core.records import RunInfo

# xterm-256 colour cube indices: shown exactly in a 256-colour terminal and in
# truecolor, and far apart in hue so overlaid curves stay distinguishable.
PALETTE = (33, 208, 40, 197, 141, 220, 51, 130, 250, 165)


@dataclass
class RunView:
    key: str
    name: str
    experiment: str
    colour: int
    config: dict = field(default_factory=dict)
    status: str = "queued"     # queued | running | finished | stopped | failed | diverged | ...
    epochs: int = 0            # epochs the run asks for
    metrics: list = field(default_factory=list)
    message: str = ""
    run_dir: str = ""
    past: bool = False         # opened from the log dir rather than started here
    overlay: bool = True       # drawn in the charts (the compare screen toggles it)
    cause: str = ""            # why a failed run failed: data | record | disk | oom | internal
    live: tuple[int, float] | None = None  # (epoch in progress, its running train loss); None between epochs

    @property
    def label(self) -> str:
        """The one name this run goes by in the table, the legend, compare and the log."""
        return self.name

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

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        rows = [m for m in self.metrics if metric in m]
        return [m["epoch"] for m in rows], [m[metric] for m in rows]


class Views:
    """The runs on screen, in order, each with its own colour for life."""

    def __init__(self):
        self._views: dict[str, RunView] = {}
        self._keys = itertools.count(1)
        self._colours = itertools.cycle(PALETTE)

    def __iter__(self):
        return iter(self._views.values())

    def __len__(self):
        return len(self._views)

    def get(self, key: str) -> RunView | None:
        return self._views.get(key)

    def add(self, name: str, experiment: str, **fields) -> RunView:
        key = f"r{next(self._keys)}"
        view = RunView(key, name, experiment, next(self._colours), **fields)
        self._views[key] = view
        return view

    def add_past(self, info: RunInfo) -> RunView | None:
        """A run folder read from disk; None if it is already on screen."""
        path = str(info.path)
        if any(v.run_dir == path for v in self):
            return None
        return self.add(info.path.name, info.experiment, config=info.config, status=info.status,
                        epochs=int(info.config.get("epochs", 0) or 0), metrics=list(info.metrics),
                        message=info.message, cause=info.cause, run_dir=path, past=True)

    def remove(self, key: str) -> None:
        self._views.pop(key, None)

