"""A Ray cluster of two nodes on this box (`ray start`, each with its own ports and temp dir) whose
processes see an empty tmpfs where this machine sees `hidden`: nodes that do not share our disk.

    with Nodes(hidden) as nodes:     # head + one worker node, one CPU each
        ray.init(address=nodes.address)
        nodes.kill(node_id)          # a node dies at once, as if its machine were switched off
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
               "RAY_health_check_failure_threshold": "2", "RAY_health_check_initial_delay_ms": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nodes:
    def __init__(self, hidden: Path, cpus: int = 1):
        self.hidden, self.cpus = hidden, cpus
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short (socket paths), not /tmp/ray (`auto`)
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Nodes":
        try:
            self._start(["--head", "--port", str(self.port), "--ray-client-server-port", str(free_port()),
                         "--include-dashboard", "false"], "head")
            self._wait(lambda: _answers(self.port), "the Ray head did not start")
            self._start(["--address", self.address], "worker")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self, args: list[str], name: str) -> None:
        ray_cli = Path(sys.executable).parent / "ray"
        env = {**os.environ, **FAST_HEALTH, "PYTHONPATH": ROOT, "RAY_AUTH_MODE": "token", "OMP_NUM_THREADS": "1"}
        temp = os.path.join(self.temp, name)
        os.mkdir(temp)
        self.procs.append(subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs none {self.hidden} && exec {ray_cli} start {' '.join(args)} --num-cpus {self.cpus} "
             f"--temp-dir {temp} --disable-usage-stats --block"],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))

    def _wait(self, ready, failure: str) -> None:
        deadline = time.monotonic() + 600
        while not ready():
            for proc in self.procs:
                if proc.poll() is not None:
                    why = proc.stderr.read()
                    if "unshare" in why or "mount" in why:  # not allowed here (no root): no such node to be had
                        pytest.skip(f"cannot make a private mount: {why.strip()}")
                    pytest.fail(f"{failure}: {why}")
            assert time.monotonic() < deadline, failure
            time.sleep(0.2)

    def wait_for_nodes(self, ray, count: int = 2) -> dict:
        """{node id: is head} once `count` nodes are alive."""
        alive = {}

        def ready():
            alive.clear()
            alive.update({n["NodeID"]: "node:__internal_head__" in n["Resources"] for n in ray.nodes() if n["Alive"]})
            return len(alive) >= count

        self._wait(ready, f"{count} Ray nodes did not come up")
        return dict(alive)

    def kill_worker(self) -> None:
        """SIGKILL the worker node and every process it started."""
        os.killpg(self.procs[1].pid, signal.SIGKILL)

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(self.temp, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
