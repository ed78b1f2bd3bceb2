"""The `cifar-tui` command: the console by default, plus `presets`, `run`, `compare` and `bench`.

Usage errors exit 2 with one sentence; a failed run exits 1.
"""
from __future__ import annotations

import argparse
import sys

from core.config import ConfigError, RunConfig, make_config, parse_assignment
from core.presets import PresetError
from core.records import RecordError, check_logdir, default_logdir


class UsageError(Exception):
    """Bad usage: printed as one sentence, exit 2."""


def _common(p: argparse.ArgumentParser, default=None) -> None:
    """Options both the console and the subcommands take; subcommands pass SUPPRESS so
    `cifar-tui --logdir X run` keeps X."""
    p.add_argument("--logdir", default=default, help="where run records go (default: $CIFAR_TUI_LOGDIR or ./runs)")
    p.add_argument("--data-dir", default=default, help="CIFAR-10 folder (default: $CIFAR_TUI_DATA or ~/.cache/cifar-tui)")
    p.add_argument("--data-url", default=default, help="CIFAR-10 archive URL, for mirrors ($CIFAR_TUI_DATA_URL)")
    p.add_argument("--data-md5", default=default, help="md5 of that archive ($CIFAR_TUI_DATA_MD5)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cifar-tui", description="Train small CNNs on CIFAR-10 and watch the curves live.")
    _common(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("presets", help="list the presets with their descriptions")
    run = sub.add_parser("run", help="run a preset (or one config) headless",
                         description="Run a preset's runs in turn, or one config built from --set.")
    run.add_argument("preset", nargs="?", help="preset name or .toml file (omit to run one config from --set)")
    run.add_argument("--run", action="append", default=[], metavar="NAME", help="run only this run of the preset (repeatable)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting, e.g. --set lr=0.01 (repeatable)")
    run.add_argument("--experiment", default=None, help="experiment folder name (default: the preset's name, or 'custom')")
    run.add_argument("--name", default=None, help="run name when running one config (default: 'run')")
    run.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run from its last finished epoch")
    _common(run, argparse.SUPPRESS)
    compare = sub.add_parser("compare", help="compare the runs of an experiment (or any runs) against the baseline",
                             description="Compare runs: last, smoothed and best values, gap, overfitting onset, "
                                         "difference to the baseline. No argument: the most recent experiment.")
    compare.add_argument("targets", nargs="*", metavar="EXPERIMENT | RUN_DIR", help="an experiment name or folder, or run folders")
    compare.add_argument("--sort", default="test_acc", metavar="METRIC", help="sort by this column, best first (default: test_acc)")
    compare.add_argument("--csv", default=None, metavar="FILE", help="write per-epoch rows to FILE and the summary to FILE-summary")
    compare.add_argument("--markdown", default=None, metavar="FILE", help="write a Markdown report")
    compare.add_argument("--logdir", default=argparse.SUPPRESS, help="where the runs are (default: $CIFAR_TUI_LOGDIR or ./runs)")
    bench = sub.add_parser("bench", help="images/s of the training pipeline next to the bare compute",
                           description="Time the real training and eval pipeline and the compute floor of the "
                                       "same model on the same device; synthetic data unless --set dataset=cifar10.")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting, e.g. --set device=cuda (repeatable)")
    bench.add_argument("--repeats", type=int, default=3, help="timed passes after a warm-up; the best counts (default 3)")
    bench.add_argument("--train-images", type=int, default=None, help="training images per pass (default: 25000 on a GPU, 5120 on CPU)")
    bench.add_argument("--test-images", type=int, default=None, help="test images per pass (default: 10000 on a GPU, 5000 on CPU)")
    _common(bench, argparse.SUPPRESS)
    return p


def _base_config(args) -> RunConfig:
    return make_config({"data_dir": args.data_dir} if args.data_dir else {})


def _overrides(args) -> dict:
    return dict(parse_assignment(text) for text in args.set)


def _jobs(args) -> tuple[str, list]:
    """The experiment name and the (run name, RunConfig) list a `run` command asks for."""
    from core.presets import find

    base = _base_config(args)
    overrides = _overrides(args)
    if args.preset is None:
        if args.run:
            raise UsageError("--run picks runs of a preset; name the preset too, e.g. cifar-tui run quick-demo --run baseline.")
        return args.experiment or "custom", [(args.name or "run", make_config(overrides, base))]
    preset = find(args.preset, base)
    runs = [(n, c) for n, c in preset.runs if not args.run or n in args.run]
    for missing in set(args.run) - {n for n, _ in preset.runs}:
        preset.run(missing)  # raises PresetError naming the runs there are
    return args.experiment or preset.name, [(n, c.replace(**overrides)) for n, c in runs]


def cmd_presets(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from core.presets import load_all

    presets, errors = load_all(_base_config(args))
    table = Table("preset", "runs", "description", box=None, pad_edge=False)
    for p in presets:
        table.add_row(f"[bold]{p.name}[/]", str(len(p.runs)), p.description)
    console = Console()
    console.print(table)
    for e in errors:
        console.print(f"[red]broken preset:[/] {e}", highlight=False)
    return 0


def cmd_run(args) -> int:
    from tui.headless import run_queue

    logdir = args.logdir or default_logdir()
    if args.resume:
        from core.resume import resume_config

        if args.preset or args.run:
            raise UsageError("--resume continues one run folder; give no preset or --run with it.")
        config, experiment, name = resume_config(args.resume, _overrides(args))
        return run_queue([(name, config)], logdir=logdir,
                         experiment=experiment, data_url=args.data_url, data_md5=args.data_md5,
                         resume_dir=args.resume)
    experiment, jobs = _jobs(args)
    check_logdir(logdir)
    return run_queue(jobs, logdir=logdir, experiment=experiment,
                     data_url=args.data_url, data_md5=args.data_md5)


def cmd_compare(args) -> int:
    from core.compare import CompareError
    from tui.report import compare_command

    try:
        return compare_command(args.targets, args.logdir or default_logdir(), args.sort, args.csv, args.markdown)
    except CompareError as e:
        raise UsageError(str(e)) from None


def cmd_bench(args) -> int:
    from tui.benchprint import print_results

    from core import bench
    from core.precision import fast_precision

    values = {"dataset": "synthetic", "epochs": 1, **_overrides(args)}
    config = make_config(values, _base_config(args))
    device = bench.resolve_device(config.device)
    default_train, default_test = bench.default_sizes(device)
    train_images, test_images = args.train_images or default_train, args.test_images or default_test
    if args.repeats < 1 or train_images < 1 or test_images < 1:
        raise UsageError("--repeats, --train-images and --test-images take whole numbers of 1 or more.")
    dataset, data = bench.bench_data(config, train_images, test_images)
    print_results(bench.measure_precisions(config, dataset, repeats=args.repeats, data=data), config,
                  fast_precision(device))
    return 0


def cmd_console(args) -> int:
    from tui.app import run_console

    return run_console(logdir=args.logdir or default_logdir(), data_dir=args.data_dir,
                       data_url=args.data_url, data_md5=args.data_md5)


COMMANDS = {"presets": cmd_presets, "run": cmd_run, "compare": cmd_compare, "bench": cmd_bench,
            None: cmd_console}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, PresetError, RecordError) as e:
        print(f"cifar-tui: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cifar-tui: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
