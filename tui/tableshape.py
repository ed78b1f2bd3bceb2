"""Which rows the runs table shows, in which order: the `/` filter, grouped by a setting (a key
cycles through the settings that differ between the runs on screen) and finished runs folded
into one line per group. Plain Python over RunView, so the tests drive it without Textual.
"""
from __future__ import annotations

from dataclasses import dataclass

from tui.confdiff import IGNORED, change
from tui.runfilter import RunFilter

GROUP, RUN, FOLDED = "group", "run", "folded"
NOT_GROUPED = {"seed", "device", "precision", "compile"}  # how a run is made, not what it studies; still
                                                           # offered when they are all that differs
GROUP_PREFIX = "\x00"  # row keys of group and fold lines: never a RunView key


@dataclass(frozen=True)
class Entry:
    kind: str   # group | run | folded
    key: str    # the RunView's key (run), else a row key of its own
    text: str = ""    # group and fold lines: the run column's text
    detail: str = ""  # and the status column's


def differing(views) -> list[str]:
    """The settings whose value differs between `views` (what the table can group by), the
    settings of the study first, then how runs were made (seed, device...)."""
    keys = dict.fromkeys(k for v in views for k in v.config if k not in IGNORED)
    varied = [k for k in keys if len({_hashable(v.config.get(k)) for v in views}) > 1]
    return [k for k in varied if k not in NOT_GROUPED] + [k for k in varied if k in NOT_GROUPED]


def next_grouping(current: str | None, views) -> str | None:
    """The setting after `current` in `differing` order; None (no grouping) after the last."""
    keys = differing(views)
    if current not in keys:
        return keys[0] if keys else None
    at = keys.index(current) + 1
    return keys[at] if at < len(keys) else None


def arrange(views, run_filter: RunFilter | None = None, group_by: str | None = None,
            fold: bool = False) -> list[Entry]:
    """The table's lines: each group's header (when grouped), its matching runs in screen order,
    and, folded, one line counting its finished runs instead of them."""
    shown = [v for v in views if run_filter is None or run_filter.matches(v)]
    sections: dict = {}
    for view in shown:
        value = view.config.get(group_by) if group_by else None
        sections.setdefault(_hashable(value), []).append(view)
    entries = []
    for value, members in sorted(sections.items(), key=lambda item: _order(item[0])) if group_by else sections.items():
        finished = [v for v in members if v.status == "finished"]
        if group_by:
            words = change(group_by, members[0].config)[0]
            count = f"{len(members)} run{'s' * (len(members) != 1)}"
            entries.append(Entry(GROUP, f"{GROUP_PREFIX}g{words}", f"▾ {words}", count))
        entries += [Entry(RUN, v.key) for v in members if not (fold and v.status == "finished")]
        if fold and finished:
            entries.append(Entry(FOLDED, f"{GROUP_PREFIX}f{value}", f"  ▸ {len(finished)} finished", "folded"))
    return entries


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _order(value) -> tuple:
    """Numbers by size, then words; None (a setting a run lacks) last."""
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, str(value))
