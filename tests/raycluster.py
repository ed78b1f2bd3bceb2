"""A Ray cluster of `ray start` processes on loopback, for tests: its own ports, temp dir and HOME
(so its token is not the user's), each node in its own process group (killed by that id), and
optionally with a folder that only this machine sees (a tmpfs over it, in the node's own mount
namespace) or without the cifar-tui that the test venv has installed."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
ROOT = Path(__file__).resolve().parent.parent
START_S = 600  # generous: two shared cores

# Hides the cifar-tui installed in site-packages (a node "without cifar-tui"), not one that Ray's
# runtime environment ships (py_modules come first on the path, outside site-packages).
HIDE = '''import importlib.machinery, sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name in ("core", "tui"):
            paths = [p for p in sys.path if "site-packages" not in p]
            spec = importlib.machinery.PathFinder.find_spec(name, paths)
            if spec is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return spec
        return None
sys.meta_path.insert(0, _Hide())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class LoopbackCluster:
    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"  # the token lives here: HOME for every node and driver
        self.temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: socket paths
        self.port = free_port()
        self.nodes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        subprocess.run([RAY, "get-auth-token", "--generate"], env=self.env(), check=True, capture_output=True)

    def env(self, pythonpath: str | None = None, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PYTHONPATH"))}
        env.update(HOME=str(self.home), OMP_NUM_THREADS="1", **extra)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        return env

    def start(self, cpus: int, *, hidden: Path | None = None, pythonpath: str | None = None,
              without_cifar_tui: bool = False) -> subprocess.Popen:
        """The head first (no CPUs of its own: killing a worker node never takes the cluster down),
        then nodes that join it."""
        if without_cifar_tui:
            hide = self.root / f"hide-{len(self.nodes)}"
            hide.mkdir()
            (hide / "sitecustomize.py").write_text(HIDE)
            pythonpath = os.pathsep.join(filter(None, [pythonpath, str(hide)]))
        where = ["--head", "--port", str(self.port), "--ray-client-server-port", str(free_port()),
                 "--include-dashboard", "false"] if not self.nodes else ["--address", f"127.0.0.1:{self.port}"]
        self.ports.append(free_port())  # tells the nodes apart in ray.nodes()
        command = (f"{RAY} start {' '.join(where)} --num-cpus {cpus} --temp-dir {self.temp}/n{len(self.nodes)} "
                   f"--node-manager-port {self.ports[-1]} --disable-usage-stats --block")
        if hidden is not None:
            hidden.mkdir(parents=True, exist_ok=True)
            command = f"mount -t tmpfs none {hidden} && exec {command}"
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", command] if hidden else ["sh", "-c", f"exec {command}"]
        joins = {"RAY_AUTH_MODE": "token"} if self.nodes else {}  # only `ray start --head` takes the token by itself
        node = subprocess.Popen(argv, env=self.env(pythonpath, **joins), start_new_session=True, cwd=self.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.nodes.append(node)
        return node

    def wait_for(self, cpus: int) -> list[str]:
        """Until the cluster has `cpus` CPUs (every node joined): the node ids, in start order."""
        deadline = time.monotonic() + START_S
        probe = ("import json, ray; ray.init(address='127.0.0.1:%d', logging_level='error'); "
                 "print(json.dumps({n['NodeManagerPort']: n['NodeID'] for n in ray.nodes() if n['Alive']})); "
                 "print(ray.cluster_resources().get('CPU', 0))" % self.port)
        while True:
            for node in self.nodes:
                if node.poll() is not None:
                    raise RuntimeError(f"a Ray node did not start: {node.stderr.read()}")
            if answers(self.port):
                out = subprocess.run([sys.executable, "-c", probe], env=self.env(RAY_AUTH_MODE="token"),
                                     capture_output=True, text=True, timeout=START_S, cwd=self.root)
                if out.returncode == 0 and float(out.stdout.split()[-1]) >= cpus:
                    ids = json.loads(out.stdout.splitlines()[-2])
                    return [ids[str(port)] for port in self.ports]
            if time.monotonic() > deadline:
                raise RuntimeError("the Ray cluster did not start")
            time.sleep(0.5)

    def kill(self, node: subprocess.Popen) -> None:
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()

    def close(self) -> None:
        for node in reversed(self.nodes):
            self.kill(node)
        shutil.rmtree(self.temp, ignore_errors=True)
