"""The nodes of a Ray cluster: how they are named, and whether they can run this cifar-tui.

A node is named by the start of its node id and its IP ("3f2a1b4c (10.0.0.7)"): two nodes on
one host differ. Before any run starts, one small task per node reports the cifar-tui it
imports (version, and a fingerprint of its code: two builds of one version differ) and
whether it has PyTorch; a node that would run other code, or none, is refused in one sentence.
With --ray-ship-code the driver's `core` package travels to the nodes in Ray's runtime
environment (core.ray_cluster.runtime_env), and the check then confirms that it arrived.
"""
from __future__ import annotations

import json
import pickle
import re

import core

from .ray_cluster import ClusterError

SHIP = "--ray-ship-code"
MISMATCH = "cifar-tui differs on node"  # what a checked task raises: node id, IP, version, code
CHECK_TIMEOUT_S = 300.0  # a first --ray-ship-code unpacks the package on every node


def node_name(node_id: str, ip: str) -> str:
    return f"{node_id[:8]} ({ip})"


def name_of(node: dict) -> str:
    """The name of an entry of ray.nodes()."""
    return node_name(node["NodeID"], node.get("NodeManagerAddress", "?"))


def cpu_nodes(ray) -> list[dict]:
    """The live nodes that can run a task (a head started with no CPUs only schedules)."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


def ours() -> tuple[str, str]:
    """(version, code fingerprint) of the cifar-tui this process runs, as a node reports its own."""
    return _report_task()()[:2]


def check_nodes(ray, nodes: list[dict], ship_code: bool) -> None:
    """Every node in `nodes` imports the cifar-tui this process runs, and PyTorch; else one
    sentence (ClusterError) that names each node at fault."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    report = ray.remote(_report_task())
    refs = [report.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote() for n in nodes]
    try:
        found = ray.get(refs, timeout=CHECK_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(f"the Ray nodes did not report their cifar-tui within {CHECK_TIMEOUT_S:.0f} s; "
                           "make sure the cluster has free CPUs and try again.") from None
    except ray.exceptions.RuntimeEnvSetupError as e:
        raise ClusterError(f"Ray could not send this machine's code to the nodes ({' '.join(str(e).split())[:160]}); "
                           f"install cifar-tui {core.__version__} on every node and leave {SHIP} out.") from None
    if problem := refusal([(name_of(n), f) for n, f in zip(nodes, found)], ours(), ship_code):
        raise ClusterError(problem)


def refusal(found: list[tuple[str, tuple]], mine: tuple[str, str], ship_code: bool) -> str | None:
    """The sentence that refuses the nodes whose report (version, fingerprint, has torch) is not
    `mine`, or None. `found`: (node name, report) pairs."""
    version, code = mine
    missing = [name for name, (v, _, _) in found if v is None]
    other = [f"{name} has {_build(v, c, version)}" for name, (v, c, _) in found if v is not None and (v, c) != mine]
    torchless = [name for name, (_, _, torch) in found if not torch]
    if missing or other:
        what = [f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} none"] if missing else []
        fix = (f"install cifar-tui {version} on every node (the same code as here)" if ship_code else
               f"add {SHIP} to send this machine's code to the nodes, or install cifar-tui {version} on every node")
        return (f"the Ray {'node' if len(missing + other) == 1 else 'nodes'} cannot run this machine's cifar-tui "
                f"{version} (code {code}): {'; '.join(what + other)}; {fix}.")
    if torchless:
        return (f"the Ray {'node' if len(torchless) == 1 else 'nodes'} {', '.join(torchless)} "
                f"{'has' if len(torchless) == 1 else 'have'} no PyTorch; "
                "install torch there (pip install torch) and try again.")
    return None


def checked(function):
    """`function` (a task of ours) as a task that first checks the node it lands on, for a node
    that joined after check_nodes: Ray sends this wrapper by value, and the arguments that are our
    objects as bytes (packed), so it runs where cifar-tui is missing or another one; only then
    does it import `function` there. Such a node fails the task with a sentence task_failure words."""
    module, name, mine, report = function.__module__, function.__name__, ours(), _report_task()

    def run(payload: bytes, *rest):
        import importlib
        import json
        import pickle

        import ray

        found = report()
        if found[:2] != mine:
            where = [ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()]
            raise RuntimeError(f"{MISMATCH} {json.dumps(where + list(found[:2]))}")
        return getattr(importlib.import_module(module), name)(*pickle.loads(payload), *rest)
    return run


def packed(*args) -> bytes:
    """A checked task's first arguments (our objects: a node unpickles them only once checked)."""
    return pickle.dumps(args)


def task_failure(error, ship_code: bool) -> str:
    """The sentence for a task whose own code failed (RayTaskError): on a node that joined after
    the check with another cifar-tui, or none (checked), else what the task raised."""
    text = str(error.cause or error)
    if found := re.search(rf"{MISMATCH} (\[.*?\])", text):
        node_id, ip, version, code = json.loads(found.group(1))
        return refusal([(node_name(node_id, ip), (version, code, True))], ours(), ship_code)
    return f"the Ray task failed: {' '.join(text.split())[:200]}"


def _build(version: str, code: str, wanted: str) -> str:
    if version == wanted:
        return f"another build of {version} (code {code})"
    return f"{version} (code {code})"


def _report_task():
    """The function each node runs: made here, inside a function, so that Ray sends it by
    value (a node without cifar-tui could not import it by name) and it needs nothing of ours."""
    def report() -> tuple:
        import hashlib
        import importlib.util
        from pathlib import Path

        try:
            import core
        except ImportError:
            return None, None, importlib.util.find_spec("torch") is not None
        package = Path(core.__file__).parent
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        version = getattr(core, "__version__", None) or "an unknown version"
        return version, digest.hexdigest()[:8], importlib.util.find_spec("torch") is not None
    return report
