"""`--ray HOST:PORT` at a port that answers but is not Ray: refused within seconds (a GCS handshake
before ray.init), and Ctrl-C ends the command even while ray.init waits. No Ray instance is
started: the services here are a loopback HTTP server and a gRPC server that only pretends."""
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest

from shellstart import as_a_shell_starts
from tui.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE_S = 120


@pytest.fixture
def http_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("command", [["run", "quick-demo", "--ray"], ["--ray"]], ids=["run", "console"])
@pytest.mark.parametrize("scheme, service", [("", "a Ray GCS (port 6379 by default)"),
                                             ("ray://", "a Ray client server (ray://, port 10001 by default)")])
def test_a_port_that_answers_but_is_not_ray_is_refused_within_seconds(http_port, capsys, tmp_path, command,
                                                                      scheme, service):
    address = f"{scheme}127.0.0.1:{http_port}"
    started = time.monotonic()
    code = main([*command, address, "--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 30  # Ray alone waits for minutes
    assert code == 2 and err == (f"cifar-tui: {address} answers, but not as {service}: it does not speak Ray's "
                                 "protocol (gRPC); check the address, or give no address to start Ray on this box.\n")
    assert not (tmp_path / "runs").exists()


class PretendGcs(grpc.GenericRpcHandler):
    """Answers the handshake (its cluster id) as Ray's GCS does, then never answers anything: ray.init waits."""
    def __init__(self):
        self.calls, self.over = [], threading.Event()

    def service(self, details):
        self.calls.append(details.method)
        if details.method.endswith("/GetClusterId"):
            from ray.core.generated import gcs_service_pb2 as pb

            return grpc.unary_unary_rpc_method_handler(lambda req, ctx: pb.GetClusterIdReply(cluster_id=b"x" * 28),
                                                       response_serializer=pb.GetClusterIdReply.SerializeToString)
        return grpc.unary_unary_rpc_method_handler(lambda req, ctx: self.over.wait() and None)


def test_ctrl_c_ends_the_command_while_ray_init_waits(tmp_path):
    gcs = PretendGcs()
    server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[gcs])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    env.pop("RAY_AUTH_MODE", None)  # as a new shell has it (an in-process join earlier may have set it here)
    proc = subprocess.Popen(as_a_shell_starts([sys.executable, "-m", "tui.cli", "run", "quick-demo", "--ray",
                                               f"127.0.0.1:{port}", "--logdir", tmp_path / "runs"]), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        # under way: Ray's own calls reach the pretend GCS, or Ray says it cannot reach it
        while not (len(gcs.calls) > 1 or any("GCS" in line for line in lines)):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        signalled = time.monotonic()
        proc.wait(timeout=DEADLINE_S)
        assert time.monotonic() - signalled < 20, "Ctrl-C waited for Ray"  # Ray's own wait: 30 s and more
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        gcs.over.set()
        server.stop(0)
    out = "".join(lines)
    assert proc.returncode == 130 and out.rstrip().endswith("cifar-tui: interrupted."), out
    assert "Traceback" not in out and not (tmp_path / "runs").exists()
