"""Joining Ray: `connect()` to a cluster (or a local instance started here), with a handshake of
our own first (a port that answers but is not Ray would make ray.init wait for minutes).

    cluster = connect(address)                 # None: a local Ray instance on this box
    ...
    cluster.close()
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass

from .config import ConfigError

INSTALL = "Ray is not installed; install it with pip install 'cifar-tui[ray]'."
CONNECT_TIMEOUT_S = 3.0   # an address must answer this fast (Ray itself would wait minutes)
AUTH_MODE = "RAY_AUTH_MODE"
ASKS_FOR_TOKEN = "it asks for a token"
COPY_TOKEN = ("copy the token that ray get-auth-token prints on its head node to ~/.ray/auth_token here "
              "(or set RAY_AUTH_TOKEN)")
TOKEN_ADVICE = f"if it uses token authentication, {COPY_TOKEN}."


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
    ships_code: bool = False                # this machine's `core` goes to the nodes (runtime_env)
    log: object = None                      # a core.ray_logs.RayLog that holds Ray's own lines

    def gpus(self) -> float:
        return self.ray.cluster_resources().get("GPU", 0)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
        if self.release is not None:
            self.release.set()
        if self.log is not None:
            self.log.close()


def connect(address: str | None = None, num_cpus: int | None = None, ship_code: bool = False,
            log=None) -> Cluster:
    """Connect to the Ray cluster at `address` (`auto`: the one this box belongs to; HOST:PORT or
    ray://HOST:PORT), or start a new local instance (None or "", even where `ray start` ran: that
    one is `auto`). A process already connected (a notebook, a test) keeps its connection (and
    its runtime environment). `ship_code`: the tasks run this machine's `core` (runtime_env).
    `log`: a core.ray_logs.RayLog that takes Ray's own lines (else Ray prints them)."""
    ray = import_ray()
    local = not address
    if not local and address != "auto":
        _check_answers(address)
    if not local:
        _join_with_token(address)
    if ray.is_initialized():
        return Cluster(ray, "this process's Ray", False, log=log and log.open())
    if log is not None:
        log.open()
    try:
        release = _init_interruptibly(ray, address="local" if local else address, num_cpus=num_cpus if local else None,
                                      include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                                      configure_logging=log is None, runtime_env=runtime_env(ship_code))
    except BaseException as e:
        if log is not None:
            log.close()
        if not isinstance(e, ConnectionError):
            raise
        if address == "auto":
            raise ClusterError("no Ray cluster runs on this box (--ray auto found none); start one with "
                               "ray start --head, give its address, or give no address to start Ray here.") from None
        raise ClusterError(f"could not join the Ray cluster at {address} ({one_line(e)}); check that it runs "
                           f"the same Ray version, and {TOKEN_ADVICE}") from None
    return Cluster(ray, address or "a local Ray instance", local, release, ship_code, log and log.attach())


def runtime_env(ship_code: bool) -> dict | None:
    """The job's runtime environment that sends this machine's `core` to the nodes: only the
    package the tasks import (working_dir would upload the whole folder the driver runs in, data
    and runs included, and move each task into it). Ray caches it per content on each node."""
    if not ship_code:
        return None
    import core

    return {"py_modules": [core], "excludes": ["__pycache__"]}


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
    if why := _not_ray(f"{host}:{port}", client, _token_header()):
        if why == ASKS_FOR_TOKEN:
            raise ClusterError(_token_refusal(address))
        what = "Ray client server (ray://, port 10001 by default)" if client else "Ray GCS (port 6379 by default)"
        raise ClusterError(f"{address} answers, but not as a {what}: {why}; check the address, "
                           "or give no address to start Ray on this box.")


def _not_ray(target: str, client: bool, metadata: tuple = ()) -> str | None:
    """Ask the service at `target` what only Ray answers (its cluster id, or a client ping), with
    a deadline: a port that answers but is not Ray would make ray.init wait for minutes. Why it is
    not Ray, or None. A refusal for want of a token is Ray asking for one: ASKS_FOR_TOKEN when
    `metadata` carried none or a wrong one (a client server does not check tokens here)."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        if client:
            from ray.core.generated import ray_client_pb2 as pb, ray_client_pb2_grpc as rpc

            rpc.RayletDriverStub(channel).ClusterInfo(pb.ClusterInfoRequest(type=pb.ClusterInfoType.PING),
                                                      timeout=CONNECT_TIMEOUT_S, metadata=metadata)
        else:
            from ray.core.generated import gcs_service_pb2 as pb, gcs_service_pb2_grpc as rpc

            rpc.NodeInfoGcsServiceStub(channel).GetClusterId(pb.GetClusterIdRequest(), timeout=CONNECT_TIMEOUT_S,
                                                             metadata=metadata)
    except grpc.RpcError as e:
        if e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return None if client else ASKS_FOR_TOKEN
        return {grpc.StatusCode.DEADLINE_EXCEEDED: f"no Ray reply within {CONNECT_TIMEOUT_S:.0f} s",
                grpc.StatusCode.UNAVAILABLE: "it does not speak Ray's protocol (gRPC)",
                grpc.StatusCode.UNIMPLEMENTED: "it speaks gRPC, but has no Ray service"}.get(
            e.code(), f"it replied {e.code().name}")
    finally:
        channel.close()
    return None


def _token_loader():
    """Ray's own reader of the token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token), or
    None in a Ray without token authentication."""
    try:
        from ray._raylet import AuthenticationTokenLoader
    except ImportError:
        return None
    loader = AuthenticationTokenLoader.instance()
    return loader if loader.has_token(ignore_auth_mode=True) else None


def _token_header() -> tuple:
    """The gRPC metadata that carries this machine's token, as Ray's own clients send it."""
    loader = _token_loader()
    if loader is None or os.environ.get(AUTH_MODE, "token").lower() != "token":
        return ()
    header = "Bearer " + loader.get_raw_token(ignore_auth_mode=True)
    return (("authorization", header),)


def _join_with_token(address: str) -> None:
    """`ray start` turns token authentication on where the user has a token: the driver joins
    with it too, where RAY_AUTH_MODE does not say otherwise (the rule `ray start` follows)."""
    if os.environ.get(AUTH_MODE) is not None or _token_loader() is None:
        return
    os.environ[AUTH_MODE] = "token"
    try:  # Ray's own switch (what `ray start` calls): its cached config must see the new mode too
        from ray._private.authentication.authentication_token_setup import _enable_token_auth
    except ImportError:
        return
    _enable_token_auth()


def _token_refusal(address: str) -> str:
    mode = os.environ.get(AUTH_MODE)
    if mode is not None and mode.lower() != "token":
        return (f"the Ray cluster at {address} asks for a token, but {AUTH_MODE}={mode} turns tokens off here; "
                f"unset {AUTH_MODE}; {COPY_TOKEN} if it has none.")
    if _token_loader() is None:
        return f"the Ray cluster at {address} asks for a token and this machine has none; {COPY_TOKEN}."
    return f"the Ray cluster at {address} refused this machine's token; {COPY_TOKEN}."


def one_line(e) -> str:
    return " ".join(str(e).split())[:200]
