"""Where a queue's runs train, as one value: parsed alike for `cifar-tui run` and the console,
and turned into its executor (core.executor) in one place.

    placement = parse(parallel="2", devices="cuda:0,cuda:1")   # the options' text; ConfigError if bad
    with make_executor(placement, logdir, jobs=jobs) as executor:
        ...                                                     # core.drain.drain(queue, executor, ...)

A new placement is a new `kind`: its options in OPTIONS (the command line of `run` and the
console is built from them), its fields here, its options' rule in `parse` and its executor
built in `make_executor` (its module imported there, lazily) — nothing else changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .config import ConfigError

HERE, PROCESSES, RAY = "here", "processes", "ray"


@dataclass(frozen=True, kw_only=True)
class Placement:
    kind: str = HERE
    parallel: int = 1                    # processes: runs at once
    devices: tuple[str, ...] = ()        # processes: devices in turn (): where the runs' setting points
    address: str | None = None           # ray: the cluster to join (None: start Ray on this box)
    runs_per_gpu: int | None = None      # ray: k runs share one GPU
    device: str | None = None            # ray: cpu or cuda for every run (None: each run's own)
    cpus_per_run: int = 1                # ray: CPUs (and torch threads) each run asks for
    max_retries: int = 2                 # ray: how often a run whose worker or node was lost starts again
    ship_code: bool = False              # ray: this machine's code goes to the nodes (core.ray_cluster)
    verbose: bool = False                # ray: Ray's own lines printed too (always in LOGDIR/.ray/driver.log)
    records: str = "auto"                # ray: who writes the run folders (core.ray_executor.RayExecutor)

    @property
    def here(self) -> bool:
        return self.kind == HERE


RAY_ADDRESSES = ("no ADDRESS (or local) starts Ray on this box; auto joins the cluster ray start set up here; "
                 "HOST:PORT or ray://HOST:PORT joins that one")
RECORDS = ("auto", "shared", "driver")
RAY_RECORDS = ("who writes the run folders with --ray: auto (default) the tasks where every node shares the "
               "log dir, else this machine from what they send through Ray; shared: the tasks, refused unless "
               "every node shares the log dir; driver: this machine")
# The options that choose a placement, as `run` (and, with a console help, the console) takes them:
# (flag, argparse keywords, usage, help for run, help for the console or None: run only)
OPTIONS = (
    ("--parallel", {"metavar": "N"}, "[--parallel N]",
     "train N runs at once, each in its own process (default: one at a time, here)",
     "the console trains a queue's runs N at once, each in its own process"),
    ("--devices", {"metavar": "DEV,DEV"}, "[--devices DEV,DEV]",
     "devices for --parallel, e.g. cuda:0,cuda:1 (default: every visible GPU, else the CPU)",
     "devices for the console's --parallel, e.g. cuda:0,cuda:1 (default: every visible GPU, else the CPU)"),
    ("--ray", {"nargs": "?", "const": "", "metavar": "ADDRESS"}, "[--ray [ADDRESS]]",
     "train each run as a Ray task: " + RAY_ADDRESSES, "the console trains each run as a Ray task: " + RAY_ADDRESSES),
    ("--runs-per-gpu", {"metavar": "K"}, "[--runs-per-gpu K]",
     "with --ray, K runs share one GPU (each asks for 1/K of it)", None),
    ("--cpus-per-run", {"metavar": "N"}, "[--cpus-per-run N]",
     "with --ray, CPUs each run asks Ray for, and its torch threads (default: 1)",
     "with the console's --ray, CPUs each run asks Ray for, and its torch threads (default: 1)"),
    ("--max-retries", {"metavar": "N"}, "[--max-retries N]",
     "with --ray, how often a run whose worker or node was lost starts again, from its last checkpoint (default: 2)",
     "with the console's --ray, how often a run whose worker or node was lost starts again (default: 2)"),
    ("--ray-ship-code", {"action": "store_true"}, "[--ray-ship-code]",
     "with --ray, send this machine's cifar-tui code to the nodes (Ray's runtime environment) instead of "
     "the one installed there", "with the console's --ray, send this machine's cifar-tui code to the nodes"),
    ("--verbose", {"action": "store_true"}, "[--verbose]",
     "with --ray, also print Ray's own log lines (always kept in LOGDIR/.ray/driver.log)", None),
    ("--ray-records", {"metavar": "auto|shared|driver"}, "[--ray-records auto|shared|driver]", RAY_RECORDS, RAY_RECORDS),
)
CONSOLE = "console_"  # the console's options' dest prefix: `run` has its own


def add_options(group, console: bool = False) -> None:
    """The placement options on an argparse parser (or group): `run`'s, or the console's."""
    for flag, keywords, _, run_help, console_help in OPTIONS:
        if console and console_help is None:  # run only
            continue
        dest = (CONSOLE if console else "") + flag.removeprefix("--").replace("-", "_")
        group.add_argument(flag, dest=dest, default=None, help=console_help if console else run_help, **keywords)


def console_usage() -> str:
    return " ".join(usage for _, _, usage, _, console_help in OPTIONS if console_help is not None)


def from_args(args, console: bool = False) -> Placement:
    """The placement that parsed options (add_options) ask for, as `parse` reads them."""
    prefix = CONSOLE if console else ""
    names = [flag.removeprefix("--").replace("-", "_") for flag, *_ in OPTIONS]
    return parse(**{name: getattr(args, prefix + name, None) for name in names})


def ray_address(text: str) -> str | None:
    """--ray's value: None to start Ray on this box (a bare --ray, or `local`), else the address."""
    text = text.strip()
    return None if text.lower() in ("", "local") else text


def parse(parallel: str | None = None, devices: str | None = None, ray: str | None = None,
          runs_per_gpu: str | None = None, cpus_per_run: str | None = None, max_retries: str | None = None,
          ray_ship_code: bool | None = False, verbose: bool | None = False,
          ray_records: str | None = None) -> Placement:
    """The placement the options ask for (their text as typed; None: not given). ConfigError with
    one sentence when they do not fit together."""
    records = _records(ray, ray_records)
    if ray is not None or runs_per_gpu is not None:
        return _ray(parallel, devices, ray, runs_per_gpu,
                    {**_ray_tasks(cpus_per_run, max_retries, bool(ray_ship_code), bool(verbose)), "records": records})
    given = [name for name, value in (("--cpus-per-run", cpus_per_run), ("--max-retries", max_retries),
                                      ("--ray-ship-code", ray_ship_code), ("--verbose", verbose)) if value]
    if given:
        raise ConfigError(f"{given[0]} is about Ray tasks; add --ray (or leave {given[0]} out).")
    if parallel is None and devices is None:
        return Placement()
    from .processes import parse_devices

    names = tuple(parse_devices(devices)) if devices is not None else ()
    return Placement(kind=PROCESSES, devices=names,
                     parallel=len(names) if parallel is None else whole(parallel, "--parallel", "--parallel 2"))


def _ray_tasks(cpus_per_run, max_retries, ship_code: bool, verbose: bool) -> dict:
    """The Ray task options, checked; those not given keep Placement's defaults."""
    tasks = {"ship_code": ship_code, "verbose": verbose}
    if cpus_per_run is not None:
        tasks["cpus_per_run"] = whole(cpus_per_run, "--cpus-per-run", "--cpus-per-run 2")
    if max_retries is not None:
        tasks["max_retries"] = whole(max_retries, "--max-retries", "--max-retries 3", least=0)
    return tasks


def _records(ray, text: str | None) -> str:
    """--ray-records' value (default auto); ConfigError without --ray, or for another word."""
    if text is None:
        return "auto"
    if ray is None:
        raise ConfigError("--ray-records says who writes the records of runs on a Ray cluster; add --ray.")
    if text.strip().lower() not in RECORDS:
        raise ConfigError(f"--ray-records: {text.strip()!r} is not one of auto, shared or driver; "
                          "e.g. --ray-records driver when the Ray nodes do not share the log dir.")
    return text.strip().lower()


def _ray(parallel, devices, ray, runs_per_gpu, tasks: dict) -> Placement:
    from .ray_cluster import import_ray

    import_ray()  # without Ray, every Ray option says how to install it
    if ray is None:
        raise ConfigError("--runs-per-gpu packs runs onto a Ray cluster's GPUs; add --ray "
                          "(on this box, --parallel N shares the GPUs when N exceeds them).")
    if parallel is not None:
        raise ConfigError("--parallel places runs on this box; with --ray the cluster places them, "
                          "so leave --parallel out.")
    per_gpu = whole(runs_per_gpu, "--runs-per-gpu", "--runs-per-gpu 4") if runs_per_gpu is not None else None
    device = devices and devices.strip().lower()
    if device not in (None, "cpu", "cuda"):
        raise ConfigError(f"--devices: with --ray use cpu or cuda (Ray picks each run's GPU), not {devices!r}.")
    if device == "cpu" and per_gpu:
        raise ConfigError("--runs-per-gpu shares GPUs, but --devices cpu trains on CPUs; leave one of them out.")
    return Placement(kind=RAY, address=ray_address(ray), runs_per_gpu=per_gpu, device=device, **tasks)


def whole(text: str, option: str, example: str, least: int = 1) -> int:
    """A whole number of `least` or more; ConfigError naming `option` if not."""
    if not re.fullmatch(r"-?[0-9]+", text.strip()):  # int() would also read "+3", "٣" or "1_0"
        raise ConfigError(f"{option}: {text.strip()!r} is not a whole number; use {least} or more, e.g. {example}.")
    value = int(text)
    if value < least:
        raise ConfigError(f"{option}: {value} is too few; use {least} or more, e.g. {example}.")
    return value


def make_executor(placement: Placement, logdir: str, data_url: str | None = None, data_md5: str | None = None,
                  jobs=(), resume_dir: str | None = None):
    """The executor for `placement`, connected (Ray) and checked for `jobs` (and the run folder
    `resume_dir`) before anything starts; ConfigError with one sentence, nothing left open, if
    they cannot be placed. Close it (or use it in `with`) when done. Modules load here, lazily:
    `cifar-tui presets` must not wait for torch."""
    if placement.kind == HERE:
        from .executor import ThreadExecutor

        return ThreadExecutor(logdir, data_url, data_md5)
    if placement.kind == PROCESSES:
        from .processes import ProcessExecutor

        return ProcessExecutor(logdir, data_url, data_md5, parallel=placement.parallel,
                               devices=list(placement.devices) or None)
    if placement.kind == RAY:
        from .ray_cluster import connect
        from .ray_executor import RayExecutor
        from .ray_logs import RayLog

        cluster = connect(placement.address, ship_code=placement.ship_code, log=RayLog(logdir, placement.verbose))
        executor = RayExecutor(logdir, data_url, data_md5, cluster=cluster, device=placement.device,
                               runs_per_gpu=placement.runs_per_gpu, cpus_per_run=placement.cpus_per_run,
                               max_retries=placement.max_retries, records=placement.records)
        try:
            executor.check(list(jobs), resume_dir)
        except BaseException:
            executor.close()
            raise
        cluster.log.keep()  # checked: from here on Ray's own lines go to the log dir
        return executor
    raise ValueError(f"unknown placement {placement.kind!r}")
