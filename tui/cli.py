"""The `cifar-tui` command: the console by default, plus `presets`, `run`, `compare`, `report` and `bench`.

Exit codes: 0 every run finished; 1 a run failed or diverged; 2 bad usage, which includes a resume
target that cannot be used as it is (not a run folder, damaged, being written by another run, an
unreadable checkpoint, or one that does not back the recorded epochs), with nothing changed;
128 + N when stopped by signal N (tui/exitcodes.py, for every placement). Each refusal is one sentence.
"""
from __future__ import annotations

import argparse
import math
import sys

from core.config import ConfigError, RunConfig, make_config, parse_assignment
from core.placement import RAY, add_options, console_usage, from_args, whole
from core.presets import PresetError
from core.records import RecordError, check_logdir, default_logdir, safe_name
from tui.studycli import finishing, planned


class UsageError(Exception):
    """Bad usage: printed as one sentence, exit 2."""


COMMON = ("logdir", "data_dir", "data_url", "data_md5")


def _common(p: argparse.ArgumentParser, default=None, only=COMMON) -> None:
    """Options both the console and the subcommands take (`only` those a command uses);
    subcommands pass SUPPRESS so `cifar-tui --logdir X run` keeps X."""
    helps = {"logdir": ("DIR", "where run records go (default: $CIFAR_TUI_LOGDIR or ./runs)"),
             "data_dir": ("DIR", "CIFAR-10 folder (default: $CIFAR_TUI_DATA or ~/.cache/cifar-tui)"),
             "data_url": ("URL", "CIFAR-10 archive URL, for mirrors ($CIFAR_TUI_DATA_URL)"),
             "data_md5": ("MD5", "md5 of that archive ($CIFAR_TUI_DATA_MD5)")}
    for name in only:
        metavar, text = helps[name]
        p.add_argument("--" + name.replace("_", "-"), default=default, metavar=metavar, help=text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cifar-tui", usage="cifar-tui [-h] [--logdir DIR] [--data-dir DIR] [--data-url URL] [--data-md5 MD5] "
                                f"{console_usage()} [--on-hangup keep|stop] [COMMAND ...]",
        description="Train small CNNs on CIFAR-10 and watch the curves live. With no COMMAND, cifar-tui opens "
                    "the console (keys: ? inside it); a COMMAND works without it, in the shell.",
        epilog="`cifar-tui COMMAND --help` tells more about one command.")
    _common(p)
    console = p.add_argument_group("console options")  # own dests: `run` has its own --parallel/--devices
    add_options(console, console=True)
    console.add_argument("--on-hangup", default="keep", choices=("keep", "stop"),
                         help="when the console's terminal hangs up while it trains: keep (default) trains its "
                              "queue to the end and exits 0; stop stops the runs cleanly (exit 129)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands (optional)", prog="cifar-tui")
    sub.add_parser("presets", help="list the presets with their descriptions")
    run = sub.add_parser("run", help="run a preset (or one config) headless",
                         description="Run a preset's runs in turn, or one config built from --set.")
    run.add_argument("preset", nargs="?", help="preset name or .toml file (omit to run one config from --set)")
    run.add_argument("--run", action="append", default=[], metavar="NAME", help="run only this run of the preset (repeatable)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting, e.g. --set lr=0.01 (repeatable)")
    run.add_argument("--experiment", default=None, help="experiment folder name (default: the preset's name, or 'custom')")
    run.add_argument("--name", default=None, help="run name when running one config (default: 'run')")
    run.add_argument("--resume", action="append", default=[], metavar="RUN_DIR | EXPERIMENT_DIR",
                     help="continue a stopped, failed or interrupted run from its last finished epoch; for an "
                          "experiment folder, finish its study: resume every such run and start every planned run "
                          "that never began (repeatable)")
    run.add_argument("--seeds", default=None, metavar="N | S,S,...",
                     help="repeat every run over N seeds from its seed upward, or over the seeds listed "
                          "(default: the preset's seeds, else one); each seed is its own run folder, RUN-sSEED")
    add_options(run)  # where the runs train: --parallel, --devices, --ray, ...
    _common(run, argparse.SUPPRESS)
    compare = sub.add_parser("compare", help="compare the runs of an experiment (or any runs) against the baseline",
                             description="Compare runs: last, smoothed and best values, gap, overfitting onset, "
                                         "difference to the reference (each experiment's own baseline unless "
                                         "--baseline names one): paired by seed where the seeds match, else "
                                         "Welch; p and intervals Bonferroni-adjusted alike; a verdict needs 3 "
                                         "seeds a side. No argument: the most recent experiment.")
    compare.add_argument("targets", nargs="*", metavar="EXPERIMENT | RUN_DIR", help="an experiment name or folder, or run folders")
    compare.add_argument("--sort", default="test_acc", metavar="METRIC", help="sort by this column, best first (default: test_acc)")
    compare.add_argument("--csv", default=None, metavar="FILE", help="write per-epoch rows to FILE, one row per run folder (seed) to FILE-summary "
                              "and one row per group of seeds to FILE-groups (runs.csv: runs-summary.csv, runs-groups.csv)")
    compare.add_argument("--markdown", default=None, metavar="FILE", help="write a Markdown report")
    compare.add_argument("--logdir", default=argparse.SUPPRESS, help="where the runs are (default: $CIFAR_TUI_LOGDIR or ./runs)")
    compare.add_argument("--baseline", default=None, metavar="RUN",
                         help="compare every run with this one (a run's name as the table shows it; "
                              "default: each experiment's run named baseline, else its first)")
    compare.add_argument("--delta", default=None, metavar="POINTS",
                         help="a difference of test accuracy that matters to you, in points (1 = 0.01): "
                              "each row says how many seeds would detect it (80%% power)")
    compare.add_argument("--equivalence", default=None, metavar="POINTS",
                         help="test whether each run is equivalent to the reference within ±POINTS of test "
                              "accuracy (two one-sided tests; default: the preset's equivalence, if any)")
    status = sub.add_parser("status", help="where a study stands: each planned run finished, running (where), stopped, failed or never started",
                            description="One table per study: every run and seed its experiment planned (study.json), "
                                        "its state (finished, running and where, queued, stopped, failed, interrupted, "
                                        "diverged, never started) and epochs, then the totals. No argument: every "
                                        "experiment under the log dir.")
    status.add_argument("targets", nargs="*", metavar="EXPERIMENT", help="an experiment name or folder")
    status.add_argument("--logdir", default=argparse.SUPPRESS, help="where the runs are (default: $CIFAR_TUI_LOGDIR or ./runs)")
    report = sub.add_parser("report", help="write a study's report: figures, verdicts, settings, environment",
                            description="Write one folder for a finished study: report.html (one self-contained "
                                        "file, figures inline), report.md, figures/ (SVG and PNG) and the CSVs "
                                        "compare --csv writes; for the reference study's presets, the "
                                        "notebook's test accuracy beside the measured one.")
    report.add_argument("targets", nargs="+", metavar="EXPERIMENT | RUN_DIR", help="an experiment name or folder, or run folders")
    report.add_argument("--out", default=None, metavar="DIR", help="the report's folder (default: reports/EXPERIMENT)")
    report.add_argument("--logdir", default=argparse.SUPPRESS, help="where the runs are (default: $CIFAR_TUI_LOGDIR or ./runs)")
    bench = sub.add_parser("bench", help="images/s of the training pipeline next to the bare compute",
                           description="Time the real training and eval pipeline and the compute floor of the "
                                       "same model on the same device; synthetic data unless --set dataset=cifar10.")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting, e.g. --set device=cuda (repeatable)")
    bench.add_argument("--repeats", type=int, default=3, help="timed passes after a warm-up; the best counts (default 3)")
    bench.add_argument("--train-images", type=int, default=None, help="training images per pass (default: 25000 on a GPU, 5120 on CPU)")
    bench.add_argument("--test-images", type=int, default=None, help="test images per pass (default: 10000 on a GPU, 5000 on CPU)")
    bench.add_argument("--concurrent", default=None, metavar="K,K", help="time K runs training at once on one device, e.g. 1,2,4,8 (aggregate images/s)")
    _common(bench, argparse.SUPPRESS, only=("data_dir",))  # the data it times, if dataset=cifar10
    return p


def _base_config(args) -> RunConfig:
    return make_config({"data_dir": args.data_dir} if args.data_dir else {})


def _overrides(args) -> dict:
    return dict(parse_assignment(text) for text in args.set)


def _jobs(args) -> tuple[str, list]:
    """The experiment name and the jobs (core.job.Job: every run × every seed) a `run` command
    asks for; names as the run folders will have them, so what is printed is what is on disk."""
    from core.presets import find
    from core.seeds import ONE, expand, parse_seeds

    base = _base_config(args)
    overrides = _overrides(args)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    if args.preset is None:
        if args.run:
            raise UsageError("--run picks runs of a preset; name the preset too, e.g. cifar-tui run quick-demo --run baseline.")
        return safe_name(args.experiment or "custom", "custom"), expand([(safe_name(args.name or "run"), make_config(overrides, base))], seeds or ONE)
    preset = find(args.preset, base)
    wanted = {safe_name(n) for n in args.run}  # the preset's names are cleaned so
    runs = [(n, c) for n, c in preset.runs if not wanted or n in wanted]
    for missing in wanted - {n for n, _ in preset.runs}:
        preset.run(missing)  # raises PresetError naming the runs there are
    return safe_name(args.experiment or preset.name, "custom"), expand([(n, c.replace(**overrides)) for n, c in runs],
                                                                       seeds or preset.seeds)


def cmd_presets(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from core.presets import load_all

    presets, errors = load_all(_base_config(args))
    table = Table("preset", "runs", "description", box=None, pad_edge=False)
    for p in presets:
        table.add_row(Text(p.name, style="bold"), str(len(p.runs)), Text(p.description))
    console = Console()
    console.print(table)
    for e in errors:
        console.print(f"[red]broken preset:[/] {escape(str(e))}", highlight=False)
    return 0


def cmd_run(args) -> int:
    from tui.headless import run_queue

    logdir = args.logdir or default_logdir()
    placement = from_args(args)
    options = {"logdir": logdir, "placement": placement, "data_url": args.data_url, "data_md5": args.data_md5}
    if args.resume:
        jobs, home = _resumed(args, logdir)
        with finishing():
            return run_queue(jobs, experiment=None, **{**options, "logdir": home}) if jobs else 0
    experiment, jobs = _jobs(args)
    if placement.kind != RAY:  # Ray checks the log dir as every node sees it, leaving nothing behind
        check_logdir(logdir)
    with planned(logdir, experiment, jobs) as jobs:  # study.json; taken back if none of them begins
        return run_queue(jobs, experiment=experiment, **options)


def _resumed(args, logdir: str) -> tuple[list, str]:
    """The jobs of `run --resume TARGET...` (run folders resumed, experiments' studies finished)
    and the log dir new runs go to, the options checked."""
    from tui.studycli import resume_queue

    if args.preset or args.run:
        raise UsageError("--resume continues run folders and finishes studies; give no preset or --run with it.")
    if args.seeds is not None:
        raise UsageError("--seeds starts new runs and --resume carries on what was planned; "
                         "use one or the other.")
    return resume_queue(args.resume, logdir, _overrides(args))


def _points(text, option: str) -> float | None:
    """A positive number of accuracy points below 100, or None."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 100:
        raise UsageError(f"{option}: {text.strip()!r} is not a number of points between 0 and 100; "
                         f"give points of test accuracy, e.g. {option} 1 for 0.01.")
    return value


def cmd_compare(args) -> int:
    from core.compare import CompareError
    from tui.report import compare_command

    try:
        return compare_command(args.targets, args.logdir or default_logdir(), args.sort, args.csv, args.markdown,
                               baseline=args.baseline, delta=_points(args.delta, "--delta"),
                               equivalence=_points(args.equivalence, "--equivalence"))
    except CompareError as e:
        raise UsageError(str(e)) from None


def cmd_report(args) -> int:
    from core.compare import CompareError
    from tui.studywrite import report_command

    try:
        return report_command(args.targets, args.logdir or default_logdir(), args.out)
    except CompareError as e:
        raise UsageError(str(e)) from None


def cmd_status(args) -> int:
    from tui.studycli import status_command

    return status_command(args.targets, args.logdir or default_logdir())


def cmd_bench(args) -> int:
    from tui.benchprint import print_results

    from core import bench
    from core.precision import fast_precision

    values = {"dataset": "synthetic", "epochs": 1, **_overrides(args)}
    config = make_config(values, _base_config(args))
    device = bench.resolve_device(config.device)
    default_train, default_test = bench.default_sizes(device)
    train_images = default_train if args.train_images is None else args.train_images
    test_images = default_test if args.test_images is None else args.test_images
    if problem := bench.size_problem(train_images, test_images, args.repeats):
        raise UsageError(problem)
    if args.concurrent is not None:
        return _bench_concurrent(args, config, train_images, test_images)
    dataset, data = bench.bench_data(config, train_images, test_images)
    print_results(bench.measure_precisions(config, dataset, repeats=args.repeats, data=data), config,
                  fast_precision(device))
    return 0


def _bench_concurrent(args, config, train_images: int, test_images: int) -> int:
    from core import bench
    from core.bench_concurrent import concurrent_problem, measure_concurrent
    from tui.benchprint import print_concurrent

    ks = [whole(k, "--concurrent", "--concurrent 1,2,4,8")
          for k in args.concurrent.split(",")]
    if problem := concurrent_problem(ks, bench.resolve_device(config.device)):
        raise UsageError(problem)
    print_concurrent(measure_concurrent(config, ks, train_images, test_images, args.repeats), config)
    return 0


def cmd_console(args) -> int:
    """The console, its placement parsed as `run` parses it (the console has no --runs-per-gpu),
    and a Ray cluster joined and checked before the console opens."""
    from core.placement import make_executor
    from tui.app import run_console

    logdir = args.logdir or default_logdir()
    placement = from_args(args, console=True)
    executor = make_executor(placement, logdir, args.data_url, args.data_md5)
    try:
        return run_console(logdir=logdir, data_dir=args.data_dir, data_url=args.data_url, data_md5=args.data_md5,
                           on_hangup=args.on_hangup, executor=executor)
    finally:
        executor.close()


COMMANDS = {"presets": cmd_presets, "run": cmd_run, "compare": cmd_compare, "report": cmd_report, "bench": cmd_bench,
            "status": cmd_status,
            None: cmd_console}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "logdir", None) is not None and not args.logdir.strip():
            raise UsageError("--logdir is empty; name a folder, e.g. --logdir runs, or leave --logdir out "
                             "for $CIFAR_TUI_LOGDIR or ./runs.")
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, PresetError, RecordError) as e:
        print(f"cifar-tui: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cifar-tui: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
