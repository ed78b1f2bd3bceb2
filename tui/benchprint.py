"""The `cifar-tui bench` report: a few aligned lines, easy to read and to grep."""
from __future__ import annotations

from core.bench import BenchResult


def format_results(results: list[BenchResult], config, auto: str | None = None) -> str:
    """One row per phase and precision (fp32 next to bf16), then bf16's speed-up when both were timed.
    `auto`: what precision=auto trains in on this device, to say so under the table."""
    first = results[0]
    head = (f"device={first.device} data={first.data.replace(' ', '_')} batch_size={config.batch_size} "
            f"augment={config.augment} normalize={config.normalize} precision={config.precision} "
            f"compile={config.compile} repeats={first.repeats}")
    lines = [head, f"{'':11}{'pipeline img/s':>16}{'floor img/s':>14}{'pipeline/floor':>16}"]
    for phase in ("train", "eval"):
        for r in results:
            pipe, floor, ratio = ((r.train_img_s, r.floor_train_img_s, r.train_ratio) if phase == "train"
                                  else (r.eval_img_s, r.floor_eval_img_s, r.eval_ratio))
            lines.append(f"{phase + ' ' + r.precision:11}{pipe:16.1f}{floor:14.1f}{ratio:16.3f}")
    by = {r.precision: r for r in results}
    if {"fp32", "bf16"} <= set(by):
        fp32, bf16 = by["fp32"], by["bf16"]
        lines.append(f"bf16/fp32: train {bf16.train_img_s / fp32.train_img_s:.2f}x, "
                     f"eval {bf16.eval_img_s / fp32.eval_img_s:.2f}x the images/s of fp32 (pipeline).")
    if auto:
        lines.append(f"precision=auto trains in {auto} on this device.")
    lines.append("pipeline/floor is time per image of the real pipeline over the bare model step (1.000 = no overhead).")
    return "\n".join(lines)


def print_results(results: list[BenchResult], config, auto: str | None = None) -> None:
    print(format_results(results, config, auto), flush=True)


def format_concurrent(results, config) -> str:
    """`cifar-tui bench --concurrent`: one row per k, the aggregate next to k = 1's."""
    base = next((r.images_per_s for r in results if r.k == 1 and not r.error), None)
    lines = [f"device={config.device} batch_size={config.batch_size} augment={config.augment} "
             f"normalize={config.normalize} precision={config.precision} compile={config.compile}",
             f"{'k':>3}{'threads/run':>13}{'img/s (all)':>14}{'img/s per run':>15}{'vs k=1':>9}"]
    for r in results:
        if r.error:
            lines.append(f"{r.k:>3}{r.threads:>13}  failed: {r.error}")
            continue
        ratio = f"{r.images_per_s / base:8.2f}x" if base else f"{'-':>9}"
        lines.append(f"{r.k:>3}{r.threads:>13}{r.images_per_s:14.1f}{r.per_run():15.1f}{ratio}")
    lines.append("img/s (all) is every image the k runs trained, over the span from the first start to the last end.")
    return "\n".join(lines)


def print_concurrent(results, config) -> None:
    print(format_concurrent(results, config), flush=True)
