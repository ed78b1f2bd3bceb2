"""Whether every Ray node writes the log dir this machine reads (and sees a run folder to resume).

Each node writes a file with a fresh token into the log dir as it sees it; the driver then looks
for every file. A node that sees another folder at the same path (its own disk, not the share)
leaves its file where only it can see it: so every node removes its own file afterwards too.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from .ray_cluster import ClusterError
from .ray_nodes import name_of
from .records import CONFIG

PROBE_TIMEOUT_S = 120.0   # every node must run the storage probe within this


class NotShared(ClusterError):
    """A node cannot write the log dir, or see the run folder to resume, as this machine does."""


def probe_storage(ray, nodes: list[dict], logdir: str, resume_dir: str | None) -> None:
    """NotShared naming the first node that cannot write `logdir` or see `resume_dir`."""
    logdir, token = os.path.abspath(logdir), uuid.uuid4().hex
    resume = resume_dir and os.path.abspath(resume_dir)
    names = [f".ray-probe-{token}-{i}" for i in range(len(nodes))]
    try:
        answers = _on_each(ray, nodes, _probe, [(logdir, name, token, resume) for name in names])
        seen = [_read_back(Path(logdir, name), token) for name in names]
    finally:
        _on_each(ray, nodes, _unprobe, [(logdir, name) for name in names], wait=False)
    for node, (wrote, sees_resume), read in zip(nodes, answers, seen):
        if not (wrote and read):
            raise NotShared(f"the Ray node {name_of(node)} cannot write the log dir {logdir} as this machine "
                            "sees it; give --logdir a folder that every node shares (NFS or the like), or leave out "
                            "--ray-records shared to have this machine write the records.")
        if resume and not sees_resume:
            raise NotShared(f"the Ray node {name_of(node)} cannot see the run folder {resume}; move it to a "
                            "folder every node shares, or resume it without --ray.")


def _on_each(ray, nodes, function, args: list, wait: bool = True) -> list:
    """`function(*args[i])` on node i, all at once; their answers (or, `wait=False`, all tried)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(function)
    refs = [remote.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(*a) for n, a in zip(nodes, args)]
    if not wait:
        ray.wait(refs, num_returns=len(refs), timeout=PROBE_TIMEOUT_S)
        return []
    try:
        return ray.get(refs, timeout=PROBE_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(f"the Ray nodes did not run the log dir check within {PROBE_TIMEOUT_S:.0f} s; "
                           "make sure the cluster has free CPUs and try again.") from None


def _read_back(path: Path, token: str) -> bool:
    """Whether a node's probe file is here with its token (and then it is removed)."""
    try:
        found = path.read_text() == token
    except OSError:
        return False
    path.unlink(missing_ok=True)
    return found


# --- what runs on the Ray nodes ---------------------------------------------------------------


def _probe(logdir: str, name: str, token: str, resume_dir: str | None) -> tuple[bool, bool]:
    """On one node: write a file the driver will look for (never creating the log dir here:
    a folder made on this node's own disk would prove nothing), and whether the run folder
    to resume is visible."""
    try:
        Path(logdir, name).write_text(token)
        wrote = True
    except OSError:
        wrote = False
    return wrote, bool(resume_dir) and Path(resume_dir, CONFIG).is_file()


def _unprobe(logdir: str, name: str) -> None:
    """On one node: its probe file gone, wherever the log dir's path leads there."""
    try:
        Path(logdir, name).unlink(missing_ok=True)
    except OSError:
        pass
