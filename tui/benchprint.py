"""The `cifar-tui bench` report: a few aligned lines, easy to read and to grep."""
from __future__ import annotations

from core.bench import BenchResult


def format_result(result: BenchResult, config) -> str:
    head = (f"device={result.device} data={result.data.replace(' ', '_')} batch_size={config.batch_size} "
            f"augment={config.augment} normalize={config.normalize} precision={config.precision} "
            f"compile={config.compile} repeats={result.repeats}")
    rows = [("train", result.train_img_s, result.floor_train_img_s, result.train_ratio),
            ("eval", result.eval_img_s, result.floor_eval_img_s, result.eval_ratio)]
    lines = [head, f"{'':6}{'pipeline img/s':>16}{'floor img/s':>14}{'pipeline/floor':>16}"]
    lines += [f"{name:6}{pipe:16.1f}{floor:14.1f}{ratio:16.3f}" for name, pipe, floor, ratio in rows]
    lines.append("pipeline/floor is time per image of the real pipeline over the bare model step (1.000 = no overhead).")
    return "\n".join(lines)


def print_result(result: BenchResult, config) -> None:
    print(format_result(result, config), flush=True)
