"""What every way of running a run (this thread, worker processes, Ray tasks, a follower) must keep:
the trainer's order of events."""
from core.events import BatchProgress, RunEnded, RunNote, RunStarted


def in_trainer_order(events) -> bool:
    """RunStarted, then progress and epochs in order, then RunEnded last (a placement's notes aside)."""
    events = [e for e in events if not isinstance(e, RunNote)]
    if not (isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)):
        return False
    keys = [(e.epoch, 0 if e.phase == "train" else 1, e.batch) if isinstance(e, BatchProgress)
            else (e.epoch, 2, 0) for e in events[1:-1]]
    return keys == sorted(keys) and len(set(keys)) == len(keys)
