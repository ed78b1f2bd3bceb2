"""core.outcomes: each way a run can end early, read from its exception alone (no training)."""
import errno

import pytest

from core.config import make_config
from core.data import DataError
from core.outcomes import outcome
from core.records import RecordError, ResumeRefused
from core.trainer import Stopped

CONFIG = make_config({"dataset": "synthetic", "device": "cpu", "batch_size": 64, "data_dir": "/data/cifar"})


def disk_full(filename):
    return OSError(errno.ENOSPC, "No space left on device", filename)


def raised_over(inner):  # as torch.save raises its own error over the OSError of its write
    try:
        try:
            raise inner
        except OSError as e:
            raise RuntimeError("PytorchStreamWriter failed writing file") from e
    except RuntimeError as e:
        return e


@pytest.mark.parametrize("error, run_dir, recorded, status, cause, resumable, words", [
    (Stopped(), "/logs/x/r", True, "stopped", "", True, "stopped after 3 finished epoch(s); resume with "
                                                        "cifar-tui run --resume /logs/x/r."),
    (KeyboardInterrupt(), "", False, "stopped", "", False, "stopped before the run began; nothing was recorded."),
    (DataError("CIFAR-10 is missing"), "", False, "failed", "data", False, "CIFAR-10 is missing"),
    (ResumeRefused("busy"), "/logs/x/r", False, "failed", "refused", False, "busy"),
    (RecordError("damaged"), "/logs/x/r", True, "failed", "record", False, "damaged"),
    (disk_full("/logs/x/r/metrics.jsonl"), "/logs/x/r", True, "failed", "disk", True,
     "the disk is full); free some space, then resume with cifar-tui run --resume /logs/x/r."),
    (disk_full("/logs/x"), "", False, "failed", "disk", False, "free some space, or choose another --logdir."),
    (disk_full("/data/cifar/batch_1"), "", False, "failed", "data", False, "cannot use the data folder /data/cifar"),
    (raised_over(disk_full("/logs/x/r/checkpoint.pt")), "/logs/x/r", True, "failed", "disk", True, "the disk is full"),
    (RuntimeError("MPS backend out of memory"), "/logs/x/r", True, "failed", "oom", False, "at batch_size 64"),
    (ValueError("bug"), "/logs/x/r", True, "failed", "internal", False,
     "internal error: ValueError: bug (details in /logs/x/r/error.log)"),
])
def test_each_exception_has_one_outcome(error, run_dir, recorded, status, cause, resumable, words):
    ended = outcome(error, CONFIG, run_dir, 3, recorded)
    assert (ended.status, ended.cause, ended.resumable) == (status, cause, resumable)
    assert words in ended.message
    assert ("cifar-tui run --resume" in ended.message) == resumable  # the sentence offers what the value says
    assert (ended.advice is not None) == resumable  # and its resume target, as a value
    if resumable:
        assert ended.advice.run_dir == run_dir and ended.advice.say() == ended.message


def test_the_advice_is_recorded_and_a_follower_hands_it_on(tmp_path):
    """status.json keeps the advice as a value, so a console following the run words it itself."""
    from core.advice import resume_advice
    from core.events import RunEnded
    from core.follow import Follower
    from core.records import write_json, write_status

    run_dir = tmp_path / "x" / "r"
    run_dir.mkdir(parents=True)
    write_json(run_dir / "config.json", {"experiment": "x", "run": "r", "config": CONFIG.to_dict()})
    advice = resume_advice("stopped after 0 finished epoch(s)", run_dir)
    write_status(run_dir, "stopped", advice.say(), 0, "", advice)
    ended = [e for e in Follower(run_dir, 1, writer_alive=lambda: False).poll() if isinstance(e, RunEnded)]
    assert ended[0].advice == advice and ended[0].message == advice.say()
    assert advice.say({"resume": "{body}; press r."}) == "stopped after 0 finished epoch(s); press r."
