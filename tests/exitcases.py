"""The exit-code cases every placement of `cifar-tui run` must agree on (README: 0 all runs
finished, 1 a run failed or diverged, 2 bad usage including an unusable resume target).
`run(jobs, logdir, **kw)` is one placement's runner (tui.headless.run_queue, run_parallel, run_ray)."""
from pathlib import Path

from core.config import make_config
from core.records import read_metrics, take_lock

EXPERIMENT = "codes"


def tiny(**kw):
    return make_config({"dataset": "synthetic", "epochs": 1, "batch_size": 100, "device": "cpu",
                        "train_fraction": 0.05, **kw})


def check_exit_codes(run, tmp_path: Path) -> None:
    logdir = tmp_path / "runs"
    assert run([("ok", tiny())], logdir) == 0
    run_dir = logdir / EXPERIMENT / "ok"
    assert len(read_metrics(run_dir)) == 1

    # no CIFAR-10 to be had: the run fails (cause data), no usage error
    nodata = make_config({"dataset": "cifar10", "data_dir": str(tmp_path / "nodata"), "epochs": 1, "device": "cpu"})
    assert run([("nodata", nodata)], logdir, data_url=(tmp_path / "missing.tar.gz").as_uri()) == 1

    # the folder to resume is being written by another run (its lock is held): the trainer refuses
    lock = take_lock(run_dir)
    try:
        assert run([("ok", tiny(epochs=2))], logdir, resume_dir=str(run_dir)) == 2
    finally:
        lock.close()
    assert len(read_metrics(run_dir)) == 1  # nothing changed
