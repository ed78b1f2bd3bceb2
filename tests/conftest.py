import functools
import http.server
import signal
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fakecifar import write_archive, write_batches  # noqa: E402


@pytest.fixture
def cifar_dir(tmp_path):
    """A data dir holding a small CIFAR-10 look-alike, already extracted."""
    write_batches(tmp_path / "data")
    return str(tmp_path / "data")


@pytest.fixture
def served_archive(tmp_path):
    """A look-alike cifar-10-python.tar.gz served over HTTP on 127.0.0.1: (url, md5)."""
    root = tmp_path / "www"
    root.mkdir()
    _, md5 = write_archive(str(root))
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz", md5
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch, tmp_path):
    """No test sees the user's data dir, log dir or mirror settings."""
    for var in ("CIFAR_TUI_DATA", "CIFAR_TUI_DATA_URL", "CIFAR_TUI_DATA_MD5", "CIFAR_TUI_LOGDIR", "CIFAR_TUI_PRESETS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """A test that ends with a handler changed (ray.init's, or `run`'s SIG_IGN once it is stopped,
    meant for the exit of its process) must not leave it to later tests, nor, as SIG_IGN is
    inherited, to the processes they start: a Ctrl-C such a child ignores never ends it."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, handler in saved.items():
        if handler is not None and signal.getsignal(s) is not handler:
            signal.signal(s, handler)


@pytest.fixture(name="one_thread")
def _one_thread():
    """The test trains on one thread (tests/cpu.py says why)."""
    from cpu import one_thread

    with one_thread():
        yield


@pytest.fixture
def small_synthetic(monkeypatch):
    """dataset=synthetic runs train on a small set (apphelp.tiny_synthetic), so a console run takes
    seconds; console test modules use it for every test (pytestmark)."""
    from apphelp import tiny_synthetic

    monkeypatch.setattr("core.data.synthetic", lambda *a, **k: tiny_synthetic())
