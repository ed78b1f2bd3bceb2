"""Ray's own lines kept out of the driver's output: into a file under the log dir, and also on
stderr with `verbose`.

Two kinds reach a driver: the records of Ray's Python loggers (`ray.*`), and the raylet's
messages ("(raylet) Task ... failed ... will be retried", "node ... marked dead ...") that Ray's
error-listener thread prints to stdout by itself. The loggers get our handler (ray.init is told
not to set up its own); the listener's printing function is replaced while the log is open.
Until `keep()` (the checks passed, the runs start) the lines wait in memory: a refused command
writes nothing under the log dir. The file is made at its first line: a quiet run leaves
nothing behind either. The raylet's word that a node died is kept too (`dead`): it comes before
Ray's node table says so.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

FILE = Path(".ray", "driver.log")  # under the log dir
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# How the raylet says that a node died, at once (Ray's node table says so only once its
# heartbeats are overdue); such a line names the node by its full id
DEAD_SAYS = ("node it was running on is dead", "has been marked dead")
NODE_ID = re.compile(r"\b[0-9a-f]{56}\b")


class _LazyFile(logging.FileHandler):
    """A FileHandler whose folder, too, is made only when the first line comes."""
    def _open(self):
        os.makedirs(os.path.dirname(self.baseFilename), exist_ok=True)
        return super()._open()


class RayLog:
    def __init__(self, logdir, verbose: bool = False):
        self.path = Path(logdir, FILE).absolute()
        self.verbose = verbose
        self.sink = logging.getLogger("cifar_tui.ray")  # ours: ray.init clears the `ray` logger
        self.sink.propagate = False
        self.sink.setLevel(logging.INFO)
        self.file = _LazyFile(self.path, delay=True)
        self.held = logging.handlers.MemoryHandler(10_000, logging.CRITICAL + 1, self.file, flushOnClose=False)
        self.forward = _Forward(self.sink)
        self.restore = None
        self.dead: set[str] = set()  # the ids of the nodes Ray said died

    def open(self) -> "RayLog":
        """From now on; ray.init then clears the `ray` logger: attach() after it."""
        import ray._private.worker as worker

        for handler in [self.file, self.held] + ([logging.StreamHandler(sys.stderr)] if self.verbose else []):
            handler.setFormatter(logging.Formatter(FORMAT))
            if handler is not self.file:
                self.sink.addHandler(handler)
        ray_logger = logging.getLogger("ray")
        level, propagate, handlers = ray_logger.level, ray_logger.propagate, list(ray_logger.handlers)
        printing = getattr(worker, "print_to_stdstream", None)  # a Ray that prints otherwise keeps its way
        if printing is not None:
            worker.print_to_stdstream = self._print_lines

        def restore():
            ray_logger.removeHandler(self.forward)
            for handler in handlers:
                ray_logger.addHandler(handler)
            ray_logger.setLevel(level)
            ray_logger.propagate = propagate
            if printing is not None:
                worker.print_to_stdstream = printing
        self.restore = restore
        return self.attach()

    def attach(self) -> "RayLog":
        """Ray's loggers into ours (again, after ray.init cleared them)."""
        ray_logger = logging.getLogger("ray")
        for handler in list(ray_logger.handlers):
            ray_logger.removeHandler(handler)
        ray_logger.addHandler(self.forward)
        ray_logger.setLevel(logging.INFO)
        ray_logger.propagate = False  # the root logger's handlers (if any) print to the terminal
        return self

    def keep(self) -> None:
        """The lines so far into the file, and every later one as it comes."""
        self.held.flushLevel = logging.NOTSET
        self.held.flush()

    def _print_lines(self, data: dict, ignore_prefix: bool = False) -> None:
        """In place of Ray's print_to_stdstream: the lines, prefixed as Ray does, into our log."""
        for line in data.get("lines", []):
            if any(says in line for says in DEAD_SAYS):
                self.dead.update(NODE_ID.findall(line))
            self.sink.handle(self.sink.makeRecord("ray", logging.WARNING, "", 0, "(%s) %s",
                                                  (data.get("pid", "ray"), line), None))

    def close(self) -> None:
        if self.restore is not None:
            self.restore()
            self.restore = None
        for handler in list(self.sink.handlers):
            self.sink.removeHandler(handler)
            handler.close()
        self.file.close()


class _Forward(logging.Handler):
    """Hands the records of Ray's loggers to ours."""
    def __init__(self, sink: logging.Logger):
        super().__init__()
        self.sink = sink

    def emit(self, record) -> None:
        self.sink.handle(record)
