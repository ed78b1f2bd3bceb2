"""The shell's handle on a study (core.study): `run` records its plan, `run --resume EXPERIMENT_DIR`
finishes it, `status` prints where it stands."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.markup import escape

from core import study
from core.job import Job
from core.recordio import CONFIG

NEITHER = ("{target} is not a run folder (no config.json) or an experiment folder (no run folders or "
           "study.json); give one, e.g. runs/quick-demo or runs/quick-demo/baseline.")


@contextmanager
def planned(logdir: str, experiment: str, jobs: list[Job]):
    """`jobs` recorded in the experiment's study.json (each with its promised folder) while they
    are queued here; on leaving, the runs that never began are `never started` for everyone (or,
    when none began, the plan is taken back)."""
    jobs = study.plan(logdir, experiment, jobs)
    try:
        yield jobs
    finally:
        study.withdraw(logdir, experiment, jobs)  # when none of them began
        study.release()


@contextmanager
def finishing():
    """While a study's runs are queued here (resume_queue claimed them); then let them go."""
    try:
        yield
    finally:
        study.release()


def experiment_dir(target: str, logdir: str) -> Path | None:
    """The experiment folder `target` names (a folder, or an experiment under the log dir)."""
    for path in (Path(target), Path(logdir) / target):
        if study.is_experiment(path):
            return path
    return None


def resume_queue(targets: list[str], logdir: str, changes: dict, say=print) -> tuple[list[Job], str]:
    """The jobs that `run --resume TARGET...` trains, and the log dir new runs go to. A run
    folder is resumed (core.resume); an experiment folder's study is finished (core.study.finish).
    Each target is checked before anything starts: StudyError, ResumeRefused or ConfigError with
    one sentence otherwise. What is left as it is, and a study with nothing left, `say` tells."""
    from core.resume import resume_config

    jobs: list[Job] = []
    seen: set[Path] = set()  # run folders (on disk or promised) in the queue already
    homes: set[Path] = set()
    for target in targets:
        if (Path(target) / CONFIG).is_file():
            if Path(target).resolve() not in seen:
                config, experiment, name = resume_config(target, changes)
                jobs.append(Job(name=name, config=config, experiment=experiment, resume_dir=target))
                seen.add(Path(target).resolve())
            continue
        folder = experiment_dir(target, logdir)
        if folder is None:
            raise study.StudyError(NEITHER.format(target=target))
        plan = study.finish(folder, changes, busy=seen)
        for note in plan.notes:
            say(f"{plan.experiment}: {note}")
        if not plan.jobs and not plan.elsewhere:
            say(f"{plan.experiment}: every run of the study has ended ({plan.finished} of {plan.total} "
                "finished); nothing to do.")
        if any(j.resume_dir is None for j in plan.jobs):
            homes.add(folder.parent)
        seen.update(Path(j.resume_dir or folder / j.folder).resolve() for j in plan.jobs)
        jobs += study.claim(folder, plan.jobs)  # the runs that never began are this process's to start
    if len(homes) > 1:
        raise study.StudyError(f"the studies to finish are in different log dirs ({', '.join(map(str, sorted(homes)))}); "
                               "finish the experiments of one log dir at a time.")
    return jobs, str(homes.pop()) if homes else logdir


def status_command(targets: list[str], logdir: str) -> int:
    """`cifar-tui status [EXPERIMENT...]`: one table per study; exit 0, or 2 for a bad target."""
    from rich.console import Console

    folders = []
    for target in targets:
        folder = experiment_dir(target, logdir)
        if folder is None:
            raise study.StudyError(NEITHER.format(target=target).replace("a run folder (no config.json) or ", ""))
        folders.append(folder)
    folders = folders or study.experiment_dirs(logdir)
    console = Console(highlight=False)
    if not folders:
        console.print(f"No studies under {logdir} yet; start one with cifar-tui run PRESET.", markup=False)
        return 0
    tables = [(folder, *study.rows(folder)) for folder in folders]  # every manifest read before printing
    for k, (folder, runs, has_plan) in enumerate(tables):
        note = "" if has_plan else f"  (no {study.MANIFEST}: runs that never started are not known)"
        console.print(("\n" if k else "") + f"[bold]{escape(folder.name)}[/]  {escape(str(folder))}{escape(note)}",
                      soft_wrap=True)
        table = status_table(runs)
        Console(highlight=False, width=max(console.width, _natural_width(table))).print(table)  # names never cut
        console.print(study.totals(runs), soft_wrap=True, markup=False)
    return 0


def _natural_width(table) -> int:
    """The width at which no cell of `table` is cut (one space of padding between columns)."""
    widths = [max([len(str(c.header)), *(len(getattr(cell, "plain", cell)) for cell in c._cells)]) for c in table.columns]
    return sum(widths) + 2 * (len(widths) - 1)


def status_table(runs: list):
    from rich.table import Table
    from rich.text import Text

    table = Table("run", "group", "seed", "state", "epochs", "where", box=None, pad_edge=False)
    styles = {"finished": "green", "running": "cyan", "queued": "cyan", "stopped": "yellow", "interrupted": "yellow",
              study.NEVER: "dim"}
    for r in runs:
        table.add_row(Text(r.path.name if r.path else r.planned.folder), Text(r.group),
                      "" if r.seed is None else str(r.seed), Text(r.state, style=styles.get(r.state, "red")),
                      f"{r.done}/{r.epochs}", Text(r.where))
    return table
