"""The console's part of a study (core.study): `s` and `a` record what they queue in the
experiment's study.json, and `r` on an experiment finishes its study (resumes every stopped,
failed or interrupted run and starts every planned run that never began) through the queue
`s` and `a` use. Called from tui.app with the app; it uses the app's views, queue and log only.
"""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from core import study
from core.config import ConfigError
from core.job import Job
from core.records import RecordError, read_run
from core.resume import resume_problem
from tui.recipes import Recipe


def record(app, experiment: str, jobs: list[Job]) -> list[Job] | None:
    """`jobs` (queued rows, each with the folder its view promises) planned in study.json; a row
    whose folder another process planned meanwhile gets another. None (the rows removed, the
    reason said) when the study record cannot be written."""
    try:
        placed = study.plan(app.logdir, experiment, jobs)
    except RecordError as e:
        for job in jobs:
            app.views.remove(job.key)
        app.model.refuse(str(e))
        return None
    for job in placed:
        app.views.get(job.key).folder = job.folder
    return placed


def _own(app) -> set[str]:
    """Run folders (on disk, or promised) that this console trains or has queued."""
    return {v.run_dir or str(Path(app.logdir, v.experiment, v.folder)) for v in app.views
            if v.status in ("queued", "running") and not v.past and not v.followed}


def finish_row(app, view) -> bool:
    """`r` on a row that is not a run to resume (finished, never started, queued or training):
    finish the study of its experiment; False when that has nothing left to do."""
    if view.run_dir and view.status not in ("queued", "running") and not resume_problem(read_run(view.run_dir)):
        return False
    return finish(app, Path(view.run_dir).parent if view.run_dir else Path(app.logdir, view.experiment))


def finish(app, exp_dir) -> bool:
    """Queue what finishes the study in `exp_dir`; False (nothing said) when nothing is left to do."""
    exp_dir = Path(exp_dir)
    try:
        plan = study.finish(exp_dir, busy=_own(app))
    except (RecordError, ConfigError) as e:
        return app.model.refuse(str(e))
    if not plan.jobs:
        return False
    for note in plan.notes:
        app.log_line(escape(f"{plan.experiment}: {note}"))
    claimed = study.claim(exp_dir, plan.jobs)  # the runs that never began: this console's to start
    if not claimed:
        return False
    fresh = [job for job in claimed if job.resume_dir is None]
    jobs = [_resumed(app, job) if job.resume_dir else _planned(app, job) for job in claimed]
    app.model.relabel()
    app.log_line(f"Finishing the study [b]{escape(plan.experiment)}[/]: resuming {len(jobs) - len(fresh)}, "
                 f"starting {len(fresh)} that never began.")
    app.enqueue(jobs)
    return True


def _resumed(app, job: Job) -> Job:
    view = app.views.add_past(read_run(job.resume_dir)) or next(v for v in app.views if v.run_dir == job.resume_dir)
    view.status, view.message, view.cause, view.config = "queued", "", "", job.config.to_dict()
    view.past = False  # training here now
    return Job(key=view.key, name=job.name, experiment=job.experiment, config=job.config, group=job.group,
               resume_dir=job.resume_dir)


def _planned(app, job: Job) -> Job:
    view = app.views.add(job.name, job.experiment, config=job.config.to_dict(), epochs=job.config.epochs,
                         group=job.group or "", folder=job.folder,
                         recipe=Recipe(job.group or job.name, job.config, job.config))
    return Job(key=view.key, name=job.name, experiment=job.experiment, config=job.config, group=job.group,
               folder=job.folder)
