"""What every way of running a run (this thread, worker processes, Ray tasks, a follower) must keep:
the trainer's order of events."""
from core.events import BatchProgress, RunEnded, RunStarted


def in_trainer_order(events) -> bool:
    """RunStarted, then progress and epochs in order, then RunEnded last."""
    if not (isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)):
        return False
    keys = [(e.epoch, 0 if e.phase == "train" else 1, e.batch) if isinstance(e, BatchProgress)
            else (e.epoch, 2, 0) for e in events[1:-1]]
    return keys == sorted(keys) and len(set(keys)) == len(keys)
