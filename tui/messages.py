"""Textual messages that carry core's trainer events from the worker thread to the app."""
from __future__ import annotations

from textual.message import Message


class TrainerEvent(Message):
    """One core event (RunStarted, BatchProgress, EpochDone, RunEnded) of the run `key`.

    Posted from the training thread with `post_message`, which is thread-safe and
    never waits for the UI.
    """

    def __init__(self, key: str, event) -> None:
        super().__init__()
        self.key = key
        self.event = event
