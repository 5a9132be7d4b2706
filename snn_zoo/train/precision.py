"""``mixed_precision: auto``: bf16 autocast where the hardware runs bf16 fast, fp32 elsewhere.

Spikes are exactly 0 or 1 in bf16 and the neuron kernels keep the membrane in fp32, so bf16
autocast costs an SNN little accuracy while convolutions run on bf16 units: on CPUs with AMX
tiles (oneDNN uses them under autocast) and on GPUs that support bf16. AVX512-BF16 alone is not
enough: on such a 2-core Xeon without AMX, a sew_resnet18_cifar T=4 batch-32 training step took
4697 ms in bf16 against 3799 ms in fp32 (docs/benchmarks.md), so ``auto`` stays fp32 there.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPU_FAST_BF16_FLAG = "amx_bf16"


@functools.cache
def cpuinfo_values(key: str) -> tuple[str, ...]:
    """The values of ``key`` (e.g. 'flags', 'model name') in /proc/cpuinfo, one per core; empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    return tuple(line.split(":", 1)[1].strip() for line in text.splitlines() if line.split(":", 1)[0].strip() == key)


def cpu_bf16_flags() -> tuple[str, ...]:
    """The CPU's native-bf16 flags from /proc/cpuinfo (empty where the file does not exist)."""
    flags = {flag for line in cpuinfo_values("flags") for flag in line.split()}
    return tuple(f for f in CPU_BF16_FLAGS if f in flags)


def resolve_mixed_precision(value: str, use_cuda: bool) -> tuple[str, str]:
    """(accelerate's mixed_precision, a one-line reason) for a recipe value; only 'auto' is resolved."""
    if value != "auto":
        return value, "set in the recipe"
    if use_cuda:
        if torch.cuda.is_bf16_supported():
            return "bf16", f"auto: {torch.cuda.get_device_name()} supports bf16"
        return "no", f"auto: {torch.cuda.get_device_name()} has no bf16 support, fp32"
    if CPU_FAST_BF16_FLAG in cpu_bf16_flags():
        return "bf16", f"auto: the CPU flags include {CPU_FAST_BF16_FLAG} (AMX)"
    return "no", f"auto: the CPU flags lack {CPU_FAST_BF16_FLAG} (AMX), fp32"
