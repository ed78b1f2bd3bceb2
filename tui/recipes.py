"""What a start asks for, and the name it gets: one rule for the form (`s`), every run of a
preset (`a`) and the synthetic-data offer, so the same settings get the same name.

A Recipe is a run as the user asked for it: the preset run it starts from (its name and
config) and the config it trains with (the form's edits applied, before seeds). Its name is
the preset run's with the edits added (tui.confdiff.run_name: `baseline+synthetic+ep3`), and
each seed of it `<name>-s<seed>` (core.seeds). Plain Python, so the tests check it directly.
"""
from __future__ import annotations

from typing import NamedTuple

from core.config import RunConfig
from core.job import Job
from core.seeds import ONE, Seeds, expand, run_name as seed_name
from tui.confdiff import changes, run_name


class Recipe(NamedTuple):
    origin: str        # the preset run it starts from ("custom": none)
    base: RunConfig    # that run's config
    config: RunConfig  # what it trains with, before seeds

    @property
    def name(self) -> str:
        return run_name(self.origin, changes(self.base.to_dict(), self.config.to_dict()))

    def replace(self, **settings) -> Recipe:
        return self._replace(config=self.config.replace(**settings))


def plan(recipes: list[Recipe], seeds: Seeds = ONE) -> list[tuple[Job, Recipe]]:
    """Every (run, seed) of `recipes`, in core.seeds.expand's order, with the recipe it comes from."""
    by_name = {r.name: r for r in recipes}
    return [(job, by_name[job.group]) for job in expand([(r.name, r.config) for r in recipes], seeds)]


def again(job: Job, recipe: Recipe, **settings) -> tuple[Job, Recipe]:
    """`job` (a seed of `recipe`, or the run itself) to run again with `settings` changed: named
    as a start with those settings would name it."""
    new = recipe.replace(**settings)
    seeded = job.name != (job.group or job.name)
    name = seed_name(new.name, job.config.seed) if seeded else new.name
    return Job(name=name, config=job.config.replace(**settings), group=new.name), new


def trained(job: Job, experiment: str, views) -> object | None:
    """The finished run on screen that already is this seed of this group (same experiment,
    group name, settings and seed), if any: a seed of a group is trained once."""
    from tui.runview import RunView

    if job.name == (job.group or job.name):  # a run on its own: starting it again is asked for
        return None
    probe = RunView("", job.name, experiment, config=as_trained(job.config).to_dict(), group=job.group or "")
    return next((v for v in views if v.status == "finished" and v.group_key == probe.group_key
                 and v.config.get("seed") == job.config.seed), None)


def as_trained(config):
    """`config` with precision = auto made concrete as the trainer will (a started run's view
    holds its recorded precision); as it is when the device cannot be had here."""
    if config.precision != "auto":
        return config
    from core.precision import resolve_precision
    from core.trainer import resolve_device

    try:
        return resolve_precision(config, resolve_device(config.device))
    except Exception:  # noqa: BLE001 - an unusable device: the trainer will say so, not this probe
        return config
