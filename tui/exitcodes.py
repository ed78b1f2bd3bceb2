"""`cifar-tui run`'s exit code, one table for every placement (this process, `--parallel`, `--ray`).

0 every run finished (none failed, diverged or was refused; a run stopped alone by a
console's stop request, core.stoprequest, counts as done: its writer's queue went on);
1 a run failed or diverged; 2 bad usage, which includes a resume target the trainer refused (busy, damaged, inconsistent: nothing
changed); 128 + N when the command was stopped by signal N. The first that applies wins, in
the order signal, refused, failed.
"""
from __future__ import annotations

from collections.abc import Iterable

from core.events import RunEnded

FINISHED, FAILED, USAGE = 0, 1, 2


def exit_code(ended: Iterable[RunEnded], signals: list[int] | tuple = ()) -> int:
    """The process exit code for the runs' ends and the stop signals caught (first one counts)."""
    if signals:
        return 128 + signals[0]
    ended = list(ended)
    if any(e.cause == "refused" for e in ended):  # a resume target it could not use: bad usage
        return USAGE
    if any(e.status in ("failed", "diverged") for e in ended):
        return FAILED
    return FINISHED
