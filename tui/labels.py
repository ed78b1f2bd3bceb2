"""One label per run and per group, and fitting a set of labels into a width.

A run goes by RunView.label (its folder's name, `experiment/` while two experiments are on
screen, `(past)` / `(live)`), a group of seeds by `group_labels` (`baseline (n=3)`, or the
run's own label for a group of one). The runs table, the chart key and readout, the compare
screen and `cifar-tui compare` all show those labels, whole wherever the width allows; where
it does not, `fit` shortens them all at once so that the part that tells two labels apart
stays (a common beginning is cut first, a distinguishing end is kept) and no two shortened
labels are equal. Plain Python, so the tests check it without a terminal.
"""
from __future__ import annotations

import re
from collections import Counter

ELLIPSIS = "…"
MARK = re.compile(r" \([^()]*\)$")  # a trailing " (past)", " (live)", " (n=3)": kept whole


def group_labels(groups: list[list], name_of=lambda members: members[0].group or members[0].name) -> list[str]:
    """The label of each group of runs (RunViews, in the order drawn): a group of one seed goes by
    its run's label; several by their group name and count, `baseline (n=3)`, with the first
    run's folder instead of the name where two groups of one experiment share it (different
    settings), as `cifar-tui compare` tells them apart."""
    names = [(g[0].experiment, name_of(g)) for g in groups]
    shared = Counter(key for g, key in zip(groups, names) if len(g) > 1)
    out = []
    for members, key in zip(groups, names):
        if len(members) == 1:
            out.append(members[0].label)
            continue
        first = members[0]
        name = key[1] if shared[key] == 1 else (first.folder or first.name)
        out.append(f"{first.prefix}{name} (n={len(members)})")
    return out


def fit(labels: list[str], width: int) -> list[str]:
    """Each of `labels` (distinct) in at most `width` characters: whole where it fits, else cut
    with `…` where the cut keeps it apart from every other label. No two results are equal."""
    width = max(width, 3)
    out = list(labels)
    long = [k for k, label in enumerate(labels) if len(label) > width]
    if not long:
        return out
    taken = {label for label in labels if len(label) <= width}
    choices = {k: _candidates(labels[k], width, [lab for j, lab in enumerate(labels) if j != k]) + [None]
               for k in long}
    level = dict.fromkeys(long, 0)
    pending = list(long)
    while pending:
        proposed = {k: choices[k][level[k]] for k in pending}
        counts = Counter(proposed.values())
        for k in list(pending):
            if proposed[k] is not None and counts[proposed[k]] == 1 and proposed[k] not in taken:
                out[k] = proposed[k]
                taken.add(out[k])
                pending.remove(k)
        for k in list(pending):
            if proposed[k] is None:  # nothing readable tells it apart at this width
                out[k] = _numbered(labels[k], width, k, len(labels), taken)
                taken.add(out[k])
                pending.remove(k)
            else:
                level[k] += 1
    return out


def fit_one(label: str, width: int) -> str:
    """One label on its own (nothing to keep it apart from): its beginning and end."""
    return fit([label], width)[0]


def _candidates(label: str, width: int, others: list[str]) -> list[str]:
    """Shortenings of `label` to `width`, the most readable first: its beginning and end; then
    the beginning, the part where it differs from the label most like it, and the end; then
    its end; then windows around that part."""
    found = MARK.search(label)
    mark = found.group() if found else ""
    core = label[:len(label) - len(mark)]
    if width - len(mark) < 8:  # too little room for the name beside its mark: the name alone
        mark = ""
    room = width - len(mark)
    if len(core) <= room:
        return [core, core[:room - 1] + ELLIPSIS]
    cores = [MARK.sub("", o) for o in others]
    # where it parts from each other label, the nearest label first
    parts = sorted({min(_common_prefix(core, o), len(core) - 1) for o in cores}, reverse=True) or [0]
    differs = parts[0]
    head = room * 2 // 5
    out = [core[:head] + ELLIPSIS + core[len(core) - (room - 1 - head):] if room - 1 - head else core[:room - 1] + ELLIPSIS]
    side = max((room - 2) // 4, 1)
    span = room - 2 - 2 * side
    for at in parts if span >= 1 else ():  # its beginning, where it parts from another, its end
        start = min(max(at - span // 2, side + 1), len(core) - side - span - 1)
        if start > side:
            out.append(core[:side] + ELLIPSIS + core[start:start + span] + ELLIPSIS + core[len(core) - side:])
    out.append(ELLIPSIS + core[len(core) - (room - 1):])
    out.append(core[:room - 1] + ELLIPSIS)
    span = room - 2
    for shift in range(len(core)):  # windows ever further from where it differs
        for start in {differs - span // 2 + shift, differs - span // 2 - shift}:
            if 1 <= start <= len(core) - span - 1:
                out.append(ELLIPSIS + core[start:start + span] + ELLIPSIS)
    return [c + mark for c in dict.fromkeys(out)]


def _numbered(label: str, width: int, k: int, n: int, taken: set) -> str:
    """The last resort (more labels than the width can tell apart): its beginning and a number."""
    while True:
        tag = str(k + 1)
        text = label[:max(width - 1 - len(tag), 0)] + ELLIPSIS + tag
        if text not in taken:
            return text
        k += n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
