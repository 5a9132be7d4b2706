"""Multi-step neuron kernels timed on one CUDA GPU: our torch loop, our fused cupy kernels and spikingjelly 2.0.

The logic behind ``hub_scripts/benchmark_neurons.py`` (its docstring says what is compared and reported):
forward + backward medians, the memory-bandwidth floor the fused kernels reach, the bytes saved for backward,
and the table / markdown / target report.
"""

from __future__ import annotations

import datetime as _dt
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "DTYPES",
    "HEADERS",
    "TARGETS",
    "Row",
    "append_markdown",
    "measure_neurons",
    "peak_bandwidth_gbps",
    "print_table",
    "target_report",
]

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Peak HBM bandwidth in GB/s, matched against torch.cuda.get_device_name (first hit wins).
PEAK_GBPS = (
    ("H200", 4800.0),
    ("H100 PCIe", 2000.0),
    ("H100 NVL", 3900.0),
    ("H100", 3350.0),  # SXM5 (HBM3), e.g. "NVIDIA H100 80GB HBM3"
)
TARGETS = {"speedup_vs_sj": 1.3, "speedup_vs_torch": 5.0, "floor_fraction": 0.6}


@dataclass
class Row:
    neuron: str
    dtype: str
    T: int
    ms: dict[str, float] = field(default_factory=dict)
    saved_bytes_per_neuron: dict[str, float] = field(default_factory=dict)
    floor_ms: float = math.nan
    spikes_match: bool | None = None


def peak_bandwidth_gbps(device: torch.device, override: float | None) -> tuple[float, str]:
    """Peak bandwidth and where it came from: flag, table, or a measured device-to-device copy."""
    if override:
        return override, "--peak-gbps"
    name = torch.cuda.get_device_name(device)
    for key, gbps in PEAK_GBPS:
        if key in name:
            return gbps, f"table ({key})"
    n = 256 * 1024 * 1024  # 1 GiB of fp32
    src = torch.empty(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = time_cuda(lambda: dst.copy_(src), warmup=3, iters=10)
    return 2 * src.numel() * src.element_size() / (ms * 1e-3) / 1e9, "measured D2D copy (below true peak)"


def time_cuda(fn: Callable[[], object], warmup: int, iters: int) -> float:
    """Median milliseconds of ``fn`` measured with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def bytes_moved(T: int, n: int, element_size: int, plif: bool) -> int:
    """Bytes the fused kernels must move (see docs/benchmarks.md, "Bytes moved")."""
    forward = 3 * T * n * element_size + 2 * 4 * n  # read x, write s, write h; read v_init, write v_last
    backward = 3 * T * n * element_size + (4 * n if plif else 0)  # read grad_s, read h, write grad_x (+ v_init)
    return forward + backward


def saved_bytes(forward: Callable[[], object]) -> int:
    """Bytes of the distinct tensors autograd saves during ``forward()``."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        seen[key] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(seen.values())


def make_impls(
    kind: str, dtype: torch.dtype, T: int, shape: list[int], device: torch.device, sj_api: str
) -> dict[str, tuple[Callable[[], torch.Tensor], list[torch.Tensor]]]:
    """name -> (forward() returning spikes, tensors to differentiate) on shared inputs."""
    from snn_zoo.eval.sj_adapter import sj_multistep
    from snn_zoo.neurons.ops import multistep_cupy, multistep_torch
    from snn_zoo.neurons.spec import NeuronSpec

    gen = torch.Generator(device=device).manual_seed(0)
    x = (torch.randn([T, *shape], generator=gen, device=device) + 0.5).to(dtype).requires_grad_(True)
    v0 = torch.zeros(shape, device=device)
    tau = 2.0
    w = torch.tensor(-math.log(tau - 1.0), device=device, requires_grad=True)
    spec = NeuronSpec(kind=kind, k=1.0 / tau)
    inputs = [x, w] if kind == "plif" else [x]

    def ours(kernel):
        return lambda: kernel(x, v0, w.sigmoid() if kind == "plif" else None, spec)[0]

    impls = {"torch": (ours(multistep_torch), inputs)}
    from snn_zoo.neurons import cupy_available

    if cupy_available():
        impls["cupy"] = (ours(multistep_cupy), inputs)
    impls["sj"] = sj_multistep(kind, x, v0, w, tau, sj_api)
    return impls


def measure_neurons(args: Any, device: torch.device) -> list[Row]:
    """Time forward + backward of every (neuron, dtype, T, implementation) that ``args`` names (the CLI's
    options: neurons, dtypes, steps, shape, impls, warmup, iters, sj_api, peak) on ``device``; one Row each."""
    n = math.prod(args.shape)
    peak, _ = args.peak
    rows = []
    for kind in args.neurons:
        for dname in args.dtypes:
            dtype = DTYPES[dname]
            for T in args.steps:
                row = Row(kind, dname, T)
                impls = make_impls(kind, dtype, T, args.shape, device, args.sj_api)
                grad_s = torch.randn([T, *args.shape], device=device).to(dtype)
                spikes = {}
                for name in args.impls:
                    if name not in impls:
                        continue
                    forward, inputs = impls[name]
                    with torch.no_grad():
                        spikes[name] = forward().detach()
                    row.saved_bytes_per_neuron[name] = saved_bytes(forward) / n

                    def step(forward=forward, inputs=inputs, grad_s=grad_s):
                        out = forward()
                        torch.autograd.grad(out, inputs, grad_s, allow_unused=True)

                    row.ms[name] = time_cuda(step, args.warmup, args.iters)
                if "cupy" in spikes and "torch" in spikes:
                    row.spikes_match = torch.equal(spikes["cupy"], spikes["torch"])
                row.floor_ms = (
                    bytes_moved(T, n, torch.empty((), dtype=dtype).element_size(), kind == "plif") / (peak * 1e9) * 1e3
                )
                rows.append(row)
                print(" | ".join(_row_cells(row)), flush=True)
                del impls, grad_s, spikes
                torch.cuda.empty_cache()
    return rows


# --------------------------------------------------------------------------- reporting

HEADERS = [
    "neuron",
    "dtype",
    "T",
    "torch ms",
    "sj ms",
    "cupy ms",
    "cupy vs sj",
    "cupy vs torch",
    "floor ms",
    "% of floor",
    "saved B/neuron cupy",
    "saved B/neuron sj",
    "saved B/neuron torch",
    "spikes = torch",
]


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _row_cells(row: Row) -> list[str]:
    ms = row.ms
    cupy = ms.get("cupy")
    saved = [_fmt(row.saved_bytes_per_neuron.get(k), ".1f") for k in ("cupy", "sj", "torch")]
    return [
        row.neuron,
        row.dtype,
        str(row.T),
        _fmt(ms.get("torch"), ".3f"),
        _fmt(ms.get("sj"), ".3f"),
        _fmt(cupy, ".3f"),
        _fmt(ms["sj"] / cupy, ".2f") + "x" if cupy and "sj" in ms else "-",
        _fmt(ms["torch"] / cupy, ".2f") + "x" if cupy and "torch" in ms else "-",
        _fmt(row.floor_ms, ".3f"),
        _fmt(100.0 * row.floor_ms / cupy, ".0f") + "%" if cupy else "-",
        *saved,
        {None: "-", True: "yes", False: "NO"}[row.spikes_match],
    ]


def print_table(rows: list[Row], title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for h in HEADERS:
            table.add_column(h, justify="right")
        for row in rows:
            table.add_row(*_row_cells(row))
        Console(width=None if sys.stdout.isatty() else 220).print(table)
    except ImportError:
        print(title)
        print(markdown_table(rows))


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(_row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def target_report(rows: list[Row], steps: tuple[int, ...] = (4, 16)) -> list[str]:
    """PASS/FAIL lines for the documented targets (LIF, fp16, T=4 and T=16)."""
    out = []
    for row in rows:
        if row.neuron != "lif" or row.dtype != "fp16" or row.T not in steps or "cupy" not in row.ms:
            continue
        cupy = row.ms["cupy"]
        checks = []
        if "sj" in row.ms:
            checks.append(("cupy/sj", row.ms["sj"] / cupy, TARGETS["speedup_vs_sj"]))
        if "torch" in row.ms:
            checks.append(("cupy/torch", row.ms["torch"] / cupy, TARGETS["speedup_vs_torch"]))
        checks.append(("floor", row.floor_ms / cupy, TARGETS["floor_fraction"]))
        # One T x N fp16 tensor is 2*T bytes per neuron (PLIF adds v_init, but targets are LIF).
        saved_ok = row.saved_bytes_per_neuron.get("cupy", math.inf) <= 2 * row.T + 0.01
        parts = [
            f"{name} {val:.2f} (>= {target}) {'PASS' if val >= target else 'FAIL'}" for name, val, target in checks
        ]
        parts.append(f"saved <= one T x N tensor {'PASS' if saved_ok else 'FAIL'}")
        out.append(f"LIF fp16 T={row.T}: " + "; ".join(parts))
    return out


def append_markdown(
    path: str, rows: list[Row], device_name: str, bandwidth: tuple[float, str], argv: list[str]
) -> None:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [
        f"\n### Neuron kernels, {stamp}, {device_name}\n",
        f"Command: `python hub_scripts/benchmark_neurons.py {' '.join(argv)}`  ",
        f"Peak bandwidth: {bandwidth[0]:.0f} GB/s ({bandwidth[1]}); torch {torch.__version__}.\n",
        markdown_table(rows),
        "",
        *[f"- {line}" for line in target_report(rows)],
        "",
    ]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(text))
