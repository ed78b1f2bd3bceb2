"""Which node ran each attempt of a Ray task, so that the driver can say where a run trains and
why it started again.

Each attempt of a run's task, once its run has begun, leaves `<control>/<key>.attempt-<n>.json`
with its node (id and IP) and the epoch it began at. Attempts follow one another (Ray retries a
task only once the last attempt is over), so n is one more than the files already there. The
driver says where the first attempt trains, and for each later one what was lost and where the
retry resumes:

    baseline-s5: trains on node 3f2a1b4c (10.0.0.7)
    baseline-s5: its node 3f2a1b4c (10.0.0.7) was lost; retry 1 of 2 resumes at epoch 3 on node ...
"""
from __future__ import annotations

import json
from pathlib import Path

from .ray_nodes import node_name

LOST = "worker lost"  # the cause of a run whose worker was lost more often than it may be retried


def attempt_file(control, key: str, n: int) -> Path:
    return Path(control, f"{key}.attempt-{n}.json")


def record_attempt(control, key: str, first_epoch: int) -> None:
    """In a task: this attempt, its node and where it began (the run folder is made and locked)."""
    import ray

    n = 1
    while attempt_file(control, key, n).exists():
        n += 1
    where = {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
             "first_epoch": first_epoch}
    attempt_file(control, key, n).write_text(json.dumps(where))


def read_attempt(control, key: str, n: int) -> dict | None:
    try:
        return json.loads(attempt_file(control, key, n).read_text())
    except (OSError, ValueError):  # not there yet, or being written
        return None


def retry_line(earlier: dict, now: dict, n: int, max_retries: int, alive: set) -> str:
    """What the driver says when attempt `n` (> 1) began after `earlier` ended: the node itself
    was lost (not in `alive`, the ids of the live nodes) or only its worker process."""
    what = "node" if earlier["node_id"] not in alive else "worker on node"
    return (f"its {what} {node_name(earlier['node_id'], earlier['ip'])} was lost; retry {n - 1} of {max_retries} "
            f"resumes at epoch {now['first_epoch']} on node {node_name(now['node_id'], now['ip'])}")


def first_line(now: dict) -> str:
    return f"trains on node {node_name(now['node_id'], now['ip'])}"


def alive_nodes(ray) -> set:
    return {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
