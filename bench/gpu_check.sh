#!/bin/sh
# The speed check for a CUDA machine, in one go (a few minutes):
#   1. no host sync inside the training and eval loops (torch's sync debug mode raises on one),
#   2. `cifar-tui bench` on cuda, baseline and augmentation + normalization, on a look-alike,
#   3. one epoch of `cifar-tui run` vs the plain eager floor (and the notebook loop, if given).
# usage: sh bench/gpu_check.sh [path/to/seed_reference.py]     (PYTHON=... to pick the interpreter)
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
REF=${1:-}
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

echo "== host syncs in the loops (none allowed)"
$PY - <<'PY' || echo "!! a host sync (or an error) in the loops: see the message above"
import threading, torch
from core.config import make_config
from core.data import synthetic
from core.trainer import evaluate, prepare, train_epoch
for extra in ({}, {"augment": True, "normalize": True}, {"regularizer": "l2"}):
    config = make_config({"dataset": "synthetic", "device": "cuda", **extra})
    run = prepare(config, synthetic(2048, 2000), torch.device("cuda"))
    train_epoch(run, 1, lambda e: None, threading.Event(), "x")  # warm-up (cudnn.benchmark, lazy init)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    sums = {**train_epoch(run, 2, lambda e: None, threading.Event(), "x"), **evaluate(run)}
    torch.cuda.set_sync_debug_mode("default")
    print("no sync:", extra or "baseline", {k: round(v.item() / n, 4) for k, (v, n) in sums.items()})
PY

$PY bench/epoch_vs_reference.py --make-data "$DATA" >/dev/null
echo "== cifar-tui bench on cuda (look-alike data)"
$PY -m tui.cli bench --data-dir "$DATA" --set dataset=cifar10 --set device=cuda
$PY -m tui.cli bench --data-dir "$DATA" --set dataset=cifar10 --set device=cuda --set augment=true --set normalize=true
if [ -n "$REF" ]; then
  echo "== notebook loop on cuda"
  $PY "$REF" "$DATA" --device cuda
  $PY "$REF" "$DATA" --device cuda --config augment_normalize
fi
echo "== one epoch: ours vs eager floor${REF:+ vs notebook loop}"
$PY bench/epoch_vs_reference.py --data-dir "$DATA" --device cuda --rounds 2 ${REF:+--reference "$REF"}
