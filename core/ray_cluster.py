"""Joining Ray: `connect()` to a cluster (or a local instance started here), with a handshake of
our own first (a port that answers but is not Ray would make ray.init wait for minutes).

    cluster = connect(address)                 # None: a local Ray instance on this box
    ...
    cluster.close()
"""
from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

from .config import ConfigError

INSTALL = "Ray is not installed; install it with pip install 'cifar-tui[ray]'."
CONNECT_TIMEOUT_S = 3.0   # an address must answer this fast (Ray itself would wait minutes)


class ClusterError(ConfigError):
    """Ray, the cluster or its view of the log dir is not as the runs need; one sentence says what to do."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL) from None
    return ray


@dataclass
class Cluster:
    """A connection to Ray; `close()` ends the Ray instance only if this process started it."""
    ray: object
    address: str
    started_here: bool
    release: threading.Event | None = None  # lets the thread that ran ray.init end (_init_interruptibly)

    def gpus(self) -> float:
        return self.ray.cluster_resources().get("GPU", 0)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
        if self.release is not None:
            self.release.set()


def connect(address: str | None = None, num_cpus: int | None = None) -> Cluster:
    """Connect to the Ray cluster at `address` (`auto`: the one this box belongs to; HOST:PORT or
    ray://HOST:PORT), or start a new local instance (None or "", even where `ray start` ran: that
    one is `auto`). A process already connected (a notebook, a test) keeps its connection."""
    ray = import_ray()
    local = not address
    if not local and address != "auto":
        _check_answers(address)
    if ray.is_initialized():
        return Cluster(ray, "this process's Ray", False)
    try:
        release = _init_interruptibly(ray, address="local" if local else address, num_cpus=num_cpus if local else None,
                                      include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as e:
        if address == "auto":
            raise ClusterError("no Ray cluster runs on this box (--ray auto found none); start one with "
                               "ray start --head, give its address, or give no address to start Ray here.") from None
        raise ClusterError(f"could not join the Ray cluster at {address} ({one_line(e)}); check that it runs "
                           "the same Ray version, and set RAY_AUTH_MODE=token if it uses token authentication.") from None
    return Cluster(ray, address or "a local Ray instance", local, release)


def _init_interruptibly(ray, **kwargs) -> threading.Event:
    """ray.init in a helper thread: while Ray's C++ code waits for an address (for minutes) the main
    thread must still take Ctrl-C. The thread then stays until the returned event is set (by
    Cluster.close): the Ray processes a local start forks die with the thread that forked them."""
    started, release, failure = threading.Event(), threading.Event(), []

    def body():
        try:
            ray.init(**kwargs)
        except BaseException as e:  # raised again in the caller's thread
            failure.append(e)
        started.set()
        release.wait()

    quiet = _Quiet("SIGTERM handler is not set")  # the signals are ours to handle, in the main thread
    logging.getLogger("ray._private.worker").addFilter(quiet)
    try:
        threading.Thread(target=body, name="cifar-tui ray.init", daemon=True).start()
        while not started.wait(0.1):  # a short wait, so a signal's handler runs in time
            pass
    finally:
        logging.getLogger("ray._private.worker").removeFilter(quiet)
    if failure:
        release.set()
        raise failure[0]
    return release


class _Quiet(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record) -> bool:
        return self.text not in record.getMessage()


def _check_answers(address: str) -> None:
    """Fail within seconds when nothing listens at `address`, instead of Ray's long wait."""
    client = address.startswith("ray://")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host:
        host, port = port, ("10001" if client else "6379")
    if not port.isdigit():
        raise ClusterError(f"--ray: {address!r} is not a Ray address; use HOST:PORT, ray://HOST:PORT or auto, "
                           "or give no address to start Ray on this box.")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise ClusterError(f"nothing answers at {address} ({why}); start the cluster there with ray start --head, "
                           "check the address, or give no address to start Ray on this box.") from None
    if why := _not_ray(f"{host}:{port}", client):
        what = "Ray client server (ray://, port 10001 by default)" if client else "Ray GCS (port 6379 by default)"
        raise ClusterError(f"{address} answers, but not as a {what}: {why}; check the address, "
                           "or give no address to start Ray on this box.")


def _not_ray(target: str, client: bool) -> str | None:
    """Ask the service at `target` what only Ray answers (its cluster id, or a client ping), with
    a deadline: a port that answers but is not Ray would make ray.init wait for minutes. Why it is
    not Ray, or None. A refusal for want of a token is Ray asking for one."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        if client:
            from ray.core.generated import ray_client_pb2 as pb, ray_client_pb2_grpc as rpc

            rpc.RayletDriverStub(channel).ClusterInfo(pb.ClusterInfoRequest(type=pb.ClusterInfoType.PING),
                                                      timeout=CONNECT_TIMEOUT_S)
        else:
            from ray.core.generated import gcs_service_pb2 as pb, gcs_service_pb2_grpc as rpc

            rpc.NodeInfoGcsServiceStub(channel).GetClusterId(pb.GetClusterIdRequest(), timeout=CONNECT_TIMEOUT_S)
    except grpc.RpcError as e:
        if e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return None
        return {grpc.StatusCode.DEADLINE_EXCEEDED: f"no Ray reply within {CONNECT_TIMEOUT_S:.0f} s",
                grpc.StatusCode.UNAVAILABLE: "it does not speak Ray's protocol (gRPC)",
                grpc.StatusCode.UNIMPLEMENTED: "it speaks gRPC, but has no Ray service"}.get(
            e.code(), f"it replied {e.code().name}")
    finally:
        channel.close()
    return None


def one_line(e) -> str:
    return " ".join(str(e).split())[:200]
