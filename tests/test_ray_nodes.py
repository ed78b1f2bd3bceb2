"""A real cluster of `ray start` nodes on loopback that joins as a user's cluster does: token
authentication on (the token in its own HOME), nodes without this cifar-tui, a node that does
not see the driver's data folder. One cluster serves the module (its start-up is the slow part);
the drivers are `cifar-tui run` processes that join it with no RAY_AUTH_MODE set.

Nodes: a head with no CPUs (it only schedules, so killing a node never ends the cluster); node A,
without cifar-tui, that sees an empty tmpfs where the driver sees `hidden/`; node B, with an
older cifar-tui (0.0.9). The last test kills node B.
"""
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import QuietHandler
from fakecifar import write_archive
from raycluster import ROOT, LoopbackCluster
from core.records import read_metrics, read_run

TINY = ["--set", "epochs=2", "--set", "batch_size=100", "--set", "device=cpu"]
DEADLINE_S = 600


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to give a Ray node its own view of a folder")
    root = tmp_path_factory.mktemp("loopback")
    older = root / "older"
    shutil.copytree(ROOT / "core", older / "core", ignore=shutil.ignore_patterns("__pycache__"))
    init = older / "core" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "0.0.9"', init.read_text()))
    cluster = LoopbackCluster(root)
    try:
        cluster.start(0, without_cifar_tui=True)
        a = cluster.start(1, hidden=root / "hidden", without_cifar_tui=True)
        b = cluster.start(1, pythonpath=str(older), without_cifar_tui=True)
        try:
            _, a_id, b_id = cluster.wait_for(2)
        except RuntimeError as e:
            if "unshare" in str(e) or "mount" in str(e):  # not allowed here (no root): no such node to be had
                pytest.skip(f"cannot make a private mount: {e}")
            raise
        yield SimpleNamespace(cluster=cluster, root=root, hidden=root / "hidden", a=a, b=b, a_id=a_id, b_id=b_id)
    finally:
        cluster.close()


def drive(nodes, *args, home=None, wait=True):
    """`cifar-tui run ... --ray` against the cluster, as a user would type it: no RAY_AUTH_MODE,
    the token in HOME, and a working folder of its own (Ray gives it to the workers' path)."""
    cwd = nodes.root / "driver"
    cwd.mkdir(exist_ok=True)
    env = nodes.cluster.env(str(ROOT))
    if home is not None:
        env["HOME"] = str(home)
    argv = [sys.executable, "-m", "tui.cli", "run", *args, "--ray", f"127.0.0.1:{nodes.cluster.port}"]
    if not wait:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    return proc.returncode, proc.stdout, proc.stderr


def named(node_id: str) -> str:
    """How the driver names a node: the start of its id, then its IP."""
    return re.escape(node_id[:8]) + r" \([0-9.]+\)"


def as_node_a_sees(nodes, path: Path) -> list:
    """The folder at `path` in node A's mount namespace."""
    return sorted(os.listdir(f"/proc/{nodes.a.pid}/root{path}"))


def test_nodes_with_another_cifar_tui_or_none_are_refused_by_name(nodes, tmp_path):
    code, out, err = drive(nodes, "quick-demo", *TINY, "--logdir", str(tmp_path / "runs"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(named(nodes.a_id) + " has none", err), err
    assert re.search(named(nodes.b_id) + r" has 0\.0\.9 \(code [0-9a-f]{8}\)", err), err
    assert "add --ray-ship-code to send this machine's code to the nodes" in err
    assert not (tmp_path / "runs").exists()


def test_a_driver_without_the_token_or_with_another_is_told_where_to_put_it(nodes, tmp_path):
    (tmp_path / "wrong" / ".ray").mkdir(parents=True)
    (tmp_path / "wrong" / ".ray" / "auth_token").write_text("0123456789abcdef" * 4)
    for home, says in ((tmp_path / "none", "asks for a token and this machine has none"),
                       (tmp_path / "wrong", "refused this machine's token")):
        home.mkdir(exist_ok=True)
        started = time.monotonic()
        code, _, err = drive(nodes, "quick-demo", *TINY, "--logdir", str(tmp_path / "runs"), home=home)
        assert time.monotonic() - started < 60  # Ray alone retries for a long while
        assert code == 2 and err.count("\n") == 1 and says in err, err
        assert "copy the token that ray get-auth-token prints on its head node to ~/.ray/auth_token" in err


@pytest.fixture
def counted_archive(tmp_path):
    """The look-alike archive on a loopback HTTP server that counts its downloads: (url, md5, count)."""
    root = tmp_path / "www"
    root.mkdir()
    _, md5 = write_archive(str(root))
    downloads = []

    class Counting(QuietHandler):
        def do_GET(self):
            downloads.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz", md5, downloads
    server.shutdown()
    server.server_close()


def test_shipped_code_and_data_from_the_object_store_train_where_neither_is(nodes, tmp_path, counted_archive):
    """Node A has no cifar-tui and sees no data folder: with --ray-ship-code it runs this code on
    the data set the driver downloaded once, and the records equal a serial run's."""
    url, md5, downloads = counted_archive
    data = nodes.hidden / "data"
    common = ["--set", "dataset=cifar10", "--set", f"data_dir={data}", "--set", "train_fraction=1", *TINY,
              "--data-url", url, "--data-md5", md5]
    code, out, err = drive(nodes, "quick-demo", *common, "--ray-ship-code", "--logdir", str(tmp_path / "ray"))
    assert code == 0, out + err
    assert len(downloads) == 1 and as_node_a_sees(nodes, nodes.hidden) == []  # nothing fetched there
    assert re.search(r": trains on node " + named(nodes.a_id), out), out
    assert "(raylet)" not in out + err and "Traceback" not in err
    serial = subprocess.run([sys.executable, "-m", "tui.cli", "run", "quick-demo", *common, "--logdir",
                             str(tmp_path / "serial")], cwd=ROOT, env=nodes.cluster.env(str(ROOT)),
                            capture_output=True, text=True, timeout=DEADLINE_S)
    assert serial.returncode == 0 and len(downloads) == 1, serial.stderr
    for name in ("baseline", "augmentation+normalization"):
        a, b = (tmp_path / kind / "quick-demo" / name for kind in ("ray", "serial"))
        assert read_run(a).status == "finished" and len(read_metrics(a)) == 2
        assert [_curve(r) for r in read_metrics(a)] == [_curve(r) for r in read_metrics(b)]


def _curve(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("seconds", "time")}


def test_probe_files_go_also_where_only_a_node_sees_them(nodes, tmp_path):
    """`hidden` is a folder on both sides, but node A's is its own: refused, naming node A, and
    its probe file is gone from the folder only it sees."""
    code, _, err = drive(nodes, "quick-demo", *TINY, "--set", "dataset=synthetic", "--ray-ship-code",
                         "--ray-records", "shared", "--logdir", str(nodes.hidden))  # (auto: the driver writes them)
    assert code == 2 and err.count("\n") == 1, err
    assert re.search(f"the Ray node {named(nodes.a_id)} cannot write the log dir {nodes.hidden} ", err), err
    assert not [f for f in as_node_a_sees(nodes, nodes.hidden) if f.startswith(".ray-probe")]
    assert not [f for f in os.listdir(nodes.hidden) if f.startswith(".ray-probe")]


LATE_DRIVER = """
import sys
from core.config import make_config
from core.job import Job
from core.ray_cluster import connect
from core.ray_executor import RayExecutor
config = make_config({"dataset": "synthetic", "epochs": 1, "train_fraction": 0.05, "device": "cpu"})
executor = RayExecutor(sys.argv[2], cluster=connect(sys.argv[1]))  # no check(): as for nodes that join later
ended = executor.run([Job(key=k, name=k, config=config, experiment="exp") for k in ("a", "b")], lambda k, e: None)
for k in ("a", "b"):
    print(ended[k].status, ended[k].cause, ended[k].message)
executor.close()
"""


def test_a_node_that_joins_after_the_check_refuses_the_run_it_gets(nodes, tmp_path):
    """Its task checks the node first (it travels by value, so it runs where cifar-tui is missing)."""
    proc = subprocess.run([sys.executable, "-c", LATE_DRIVER, f"127.0.0.1:{nodes.cluster.port}", str(tmp_path / "runs")],
                          cwd=nodes.root / "driver", env=nodes.cluster.env(str(ROOT)), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 2 and all(line.startswith("failed internal the Ray node cannot run "
                                                                            "this machine's cifar-tui") for line in lines), proc.stdout + proc.stderr
    said = "\n".join(lines)
    assert re.search(named(nodes.a_id) + " has none", said) and re.search(named(nodes.b_id) + r" has 0\.0\.9", said)
    assert not (tmp_path / "runs" / "exp").exists()  # no run began


def test_a_lost_node_is_said_in_one_line_and_rays_own_lines_go_to_the_log_file(nodes, tmp_path):
    """Kill node B while both runs train: its run is retried on node A from its checkpoint, the
    driver says so in one line; Ray's own lines about it land in LOGDIR/.ray/driver.log only."""
    logs = tmp_path / "runs"
    driver = drive(nodes, "quick-demo", *TINY, "--set", "epochs=6", "--set", "dataset=synthetic",
                   "--set", "train_fraction=0.05", "--ray-ship-code", "--max-retries", "1",
                   "--logdir", str(logs), wait=False)
    folders = [logs / "quick-demo" / name for name in ("baseline", "augmentation+normalization")]
    deadline = time.monotonic() + DEADLINE_S
    while not all(f.is_dir() and read_metrics(f) for f in folders):  # both train: one on each node
        assert driver.poll() is None and time.monotonic() < deadline, "the runs did not start"
        time.sleep(0.1)
    nodes.cluster.kill(nodes.b)
    out, err = driver.communicate(timeout=DEADLINE_S)
    assert driver.returncode == 0, out + err
    lost = re.search(r"^(\S+): its node " + named(nodes.b_id) + r" was lost; retry 1 of 1 "
                     r"resumes at epoch (\d) on node " + named(nodes.a_id) + "$", out, re.M)
    assert lost, out
    assert re.search(f"^{re.escape(lost.group(1))}: trains on node {named(nodes.b_id)}$", out, re.M), out
    for folder in folders:
        assert read_run(folder).status == "finished"
        assert [r["epoch"] for r in read_metrics(folder)] == [1, 2, 3, 4, 5, 6]  # each once
    assert "(raylet)" not in out + err and "Traceback" not in err
    log = (logs / ".ray" / "driver.log").read_text()
    assert "(raylet)" in log and nodes.b_id in log  # Ray's words about the lost node, kept
