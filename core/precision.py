"""Which arithmetic a run trains in: `precision = "auto"` made concrete for the device at hand.

"auto" is bf16 autocast where the device runs it natively (a CUDA GPU with
bf16 units, compute capability 8.0 or newer; a CPU with AMX-BF16 or
AVX512-BF16), where it is markedly faster; everywhere else (MPS, older GPUs,
CPUs that would emulate bf16) it is fp32. The precision-check preset is the
evidence that bf16 learns as fp32 does (its verdicts are in the README). A run resolves it once, before
it starts, and records the result, so its config.json never says "auto".
"""
from __future__ import annotations

import torch

from .config import RunConfig

# x86 CPU features with bf16 dot-product instructions (torch.cpu.get_capabilities names, /proc/cpuinfo flags)
FAST_CPU_FEATURES = ("amx_bf16", "avx512_bf16")
CPUINFO = "/proc/cpuinfo"  # read only where torch.cpu.get_capabilities is missing (older torch)


def cuda_has_fast_bf16(device: torch.device) -> bool:
    """Native bf16 on this GPU (not the slow emulation older GPUs offer)."""
    if not torch.cuda.is_available():
        return False
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def cpu_has_fast_bf16() -> bool:
    """AMX-BF16 or AVX512-BF16 on this CPU, as torch's cpuinfo sees it (else /proc/cpuinfo)."""
    get = getattr(torch.cpu, "get_capabilities", None)  # newer torch only
    if get is not None:
        caps = get()
        return any(caps.get(name, False) for name in FAST_CPU_FEATURES)
    try:
        with open(CPUINFO) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return any(name in flags for name in FAST_CPU_FEATURES)


def fast_precision(device: torch.device) -> str:
    """What "auto" means on `device`: "bf16" where it runs natively, else "fp32"."""
    if device.type == "cuda":
        return "bf16" if cuda_has_fast_bf16(device) else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"  # MPS and the rest: not measured here, so the notebook's arithmetic


def resolve_precision(config: RunConfig, device: torch.device) -> RunConfig:
    """`config` with precision "auto" replaced by what it means on `device`; others unchanged."""
    if config.precision != "auto":
        return config
    return config.replace(precision=fast_precision(device))
