"""A run folder's TensorBoard scalars as each of TensorBoard's two loaders reads them.

`slow`: the Python loader (`tensorboard --load_fast=false`, also used when the fast one is
missing); it purges on SessionLog START. `fast`: the Rust data server (`--load_fast=true`),
asked over its gRPC interface; it ignores SessionLog and drops, per tag, the points at or
after a step that comes again. Without the server binary, `fast` applies that rule itself.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

HPARAMS = "_hparams_/"  # the HParams dashboard's summaries (core.tbhparams), not scalars


def slow(run_dir) -> dict:
    """{tag: [(step, value)]} through TensorBoard's plugin event multiplexer."""
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.util import tensor_util

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(str(run_dir))
    mux.Reload()
    (run,) = mux.Runs()
    return {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in mux.Tensors(run, tag)]
            for tag in mux.Runs()[run]["tensors"] if not tag.startswith(HPARAMS)}


def _server() -> Path | None:
    try:
        import tensorboard_data_server
    except ImportError:
        return None
    path = Path(tensorboard_data_server.__file__).parent / "bin" / "server"
    return path if path.is_file() else None


def fast(run_dir) -> dict:
    """{tag: [(step, value)]} from the Rust data server (or its preemption rule, without it)."""
    server = _server()
    if server is None:
        return _preempted(run_dir)
    import grpc
    from tensorboard.data.proto import data_provider_pb2 as pb
    from tensorboard.data.proto import data_provider_pb2_grpc as pb_grpc

    port_file = Path(run_dir).parent / f".{Path(run_dir).name}.port"
    proc = subprocess.Popen([str(server), "--logdir", str(run_dir), "--port", "0", "--port-file", str(port_file),
                             "--reload", "once", "--samples-per-plugin", "scalars=all", "--die-after-stdin"],
                            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            assert time.monotonic() < deadline and proc.poll() is None, "the data server did not start"
            time.sleep(0.05)
        with grpc.insecure_channel(f"localhost:{port_file.read_text().strip()}") as channel:
            stub = pb_grpc.TensorBoardDataProviderStub(channel)
            request = pb.ReadScalarsRequest(plugin_filter=pb.PluginFilter(plugin_name="scalars"),
                                            downsample=pb.Downsample(num_points=100_000))
            while True:  # a run's points are committed all at once, after its files are read
                runs = stub.ReadScalars(request, timeout=30).runs
                if any(run.tags for run in runs):
                    break
                assert time.monotonic() < deadline, "the data server loaded nothing"
                time.sleep(0.05)
        (run,) = runs
        return {t.tag_name: list(zip(t.data.step, t.data.value)) for t in run.tags}
    finally:
        proc.kill()
        proc.wait()
        port_file.unlink(missing_ok=True)


def _preempted(run_dir) -> dict:
    """The fast loader's rule: event files in name order; a point drops the tag's points at or after its step."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    series: dict = {}
    for path in sorted(Path(run_dir).glob("*tfevents*")):
        for event in EventFileLoader(str(path)).Load():
            for v in event.summary.value:
                if v.tag.startswith(HPARAMS):
                    continue
                points = series.setdefault(v.tag, [])
                while points and points[-1][0] >= event.step:
                    points.pop()
                points.append((event.step, float(v.tensor.float_val[0]) if v.HasField("tensor") else v.simple_value))
    return series
