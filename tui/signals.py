"""The console's quit signals: SIGTERM quits as `q` does; a hang-up (SIGHUP) lets go of the
dead terminal and, with `--on-hangup keep`, trains the queue to its end before exiting.

Textual leaves both signals to Python's default, which would end the process mid-batch with
the run's status 'running'.
"""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

QUIT_SIGNALS = [s for s in (getattr(signal, n, None) for n in ("SIGHUP", "SIGTERM")) if s]
HANG_UP_GRACE_S = 10.0  # after a hang-up and the run's clean stop, how long the app may take to exit


def detach_terminal() -> int:
    """The terminal hung up: output goes to /dev/null and input to a silent pipe, so Textual's
    threads neither fail on the dead terminal nor spin on an endless EOF while the run stops.
    Returns the pipe's write end: closing it (at exit) ends Textual's input thread."""
    from tui.headless import silence_terminal

    silence_terminal()
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    return write_end


class Signals:
    """One app's quit signals. The app calls `release` when it exits and asks `hung_up` before
    printing a crash; `signalled` is the quit signal received, if any (the exit status is 128 + it)."""

    def __init__(self, app, on_hangup: str = "keep") -> None:
        self.app = app
        self.on_hangup = on_hangup  # keep: a hung-up console trains its queue to the end; stop: stops it
        self.signalled: int | None = None
        self.hung_up = False
        self.keep_training = False  # hung up while training: train the queue to its end, then exit 0
        self._input_pipe: int | None = None  # after a hang-up: the write end of the stand-in stdin

    def install(self) -> None:
        for signum in QUIT_SIGNALS:
            signal.signal(signum, self.handle)

    def handle(self, signum: int, _frame=None) -> None:
        """SIGHUP/SIGTERM (main thread, between two steps of the event loop): quit as `q` does;
        a hang-up while training (on_hangup keep) lets go of the terminal and trains on instead."""
        app, model = self.app, self.app.model
        hang_up = signum == getattr(signal, "SIGHUP", None)
        keep = hang_up and self.on_hangup == "keep" and model.active and not model.quitting
        if not keep:
            model.queue.halt()  # first of all: the records end right even if the UI cannot go on
        if hang_up and not self.hung_up and not app.is_headless:
            self.hung_up = True
            self._input_pipe = detach_terminal()  # before Textual's next read or write on the dead terminal
            threading.Thread(target=self._exit_after_hang_up, daemon=True).start()
        if keep:
            self.keep_training = True  # exits 0 once the queue is done; its runs' locks name this process
            asyncio.get_running_loop().call_soon_threadsafe(
                app.call_next, app.log_line, "[yellow]SIGHUP received:[/] training the queue to its end, then exiting.")
            return
        first = self.signalled is None
        self.signalled = self.signalled or signum
        if first:  # call_soon_threadsafe wakes the event loop (from its own thread, too)
            asyncio.get_running_loop().call_soon_threadsafe(app.call_next, self.quit_on_signal)

    def _exit_after_hang_up(self) -> None:
        """Nobody is watching a hung-up console: once the run has stopped and its records are
        closed, make sure the process ends even if Textual got stuck on the dead terminal (its
        output thread may have failed before the handler ran)."""
        self.app.model.trained.wait()
        time.sleep(HANG_UP_GRACE_S)
        os._exit(128 + self.signalled if self.signalled else 0)

    async def quit_on_signal(self) -> None:
        self.app.log_line(f"[yellow]{signal.Signals(self.signalled).name} received:[/] quitting.")
        await self.app.action_quit()

    def release(self) -> None:
        """The app exits: EOF on the stand-in stdin ends Textual's input thread."""
        if self._input_pipe is not None:
            os.close(self._input_pipe)
            self._input_pipe = None
