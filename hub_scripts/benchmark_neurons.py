#!/usr/bin/env python
"""Benchmark multi-step neuron kernels: forward + backward time on one CUDA GPU.

Compares, for IF/LIF/PLIF, T in {1, 2, 4, 8, 16} and fp32/fp16/bf16:

* ``torch``  - snn_zoo's plain torch loop (``snn_zoo.neurons.torch_kernel`` through the custom op);
* ``cupy``   - snn_zoo's fused cupy kernels (``snn_zoo.neurons.cupy_kernel`` through the custom op);
* ``sj``     - spikingjelly 2.0's multi-step neuron on its default CUDA path. spikingjelly
  picks its implementation itself (prebuilt native CUDA ops if installed, else Triton, else
  torch; override with ``SJ_<NEURON>_CUDA_IMPLEMENTATION``). Its fused path needs an fp32
  membrane state, which its modules only keep for fp32 inputs, so by default the benchmark
  calls ``spikingjelly.activation_based.functional.<kind>_multi_step`` with an fp32 ``v``
  (``--sj-api module`` times the ``IFNode``/``LIFNode``/``ParametricLIFNode`` modules instead;
  both through ``snn_zoo.eval.sj_adapter.sj_multistep``).

Also reported: the fraction of the memory-bandwidth floor the cupy kernels reach (bytes the
fused kernels must move divided by the device's peak bandwidth) and the bytes per neuron
saved for backward by each implementation.

Example::

    python hub_scripts/benchmark_neurons.py --neurons lif --dtypes fp16 --markdown docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

try:
    import snn_zoo  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snn_zoo.eval.neuron_benchmark import (
    DTYPES,
    HEADERS,
    append_markdown,
    measure_neurons,
    peak_bandwidth_gbps,
    print_table,
    target_report,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--neurons",
        nargs="+",
        default=["if", "lif", "plif"],
        choices=["if", "lif", "plif"],
        help="neuron kinds to time",
    )
    p.add_argument(
        "--T",
        nargs="+",
        type=int,
        default=[1, 2, 4, 8, 16],
        dest="steps",
        help="time steps to time (default 1 2 4 8 16)",
    )
    p.add_argument(
        "--shape",
        nargs="+",
        type=int,
        default=[64, 64, 32, 32],
        help="shape of one time step (N = its product); default 64 x 64x32x32",
    )
    p.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES), help="storage dtypes to time")
    p.add_argument(
        "--impls",
        nargs="+",
        default=["torch", "sj", "cupy"],
        choices=["torch", "sj", "cupy"],
        help="implementations: our torch loop, spikingjelly 2.0, our fused cupy kernel",
    )
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations first (default 5)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations; the median is reported")
    p.add_argument(
        "--peak-gbps",
        type=float,
        default=None,
        help="device peak memory bandwidth in GB/s (default: table by device name, else measured)",
    )
    p.add_argument(
        "--sj-api", choices=["functional", "module"], default="functional", help="how spikingjelly's neuron is called"
    )
    p.add_argument("--markdown", metavar="PATH", default=None, help="append the table to this markdown file")
    p.add_argument("--allow-cpu", action="store_true", help="exit 0 (measuring nothing) when CUDA is missing")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- measurement


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if not torch.cuda.is_available():
        if args.allow_cpu:
            print("benchmark_neurons: no CUDA device; nothing was measured (--allow-cpu).")
            return 0
        print(
            "benchmark_neurons: needs a CUDA GPU (torch.cuda.is_available() is False); "
            "pass --allow-cpu to exit 0 without measuring.",
            file=sys.stderr,
        )
        return 1
    device = torch.device("cuda", torch.cuda.current_device())
    device_name = torch.cuda.get_device_name(device)
    args.peak = peak_bandwidth_gbps(device, args.peak_gbps)
    try:
        from snn_zoo.neurons import cupy_available

        if not cupy_available():
            print(
                'benchmark_neurons: cupy unavailable, the cupy column will be empty (pip install "snn_zoo[cuda]").',
                file=sys.stderr,
            )
    except ImportError:
        pass
    try:
        from spikingjelly.activation_based.functional import neuron_implementation

        sj_impls = {k: neuron_implementation(k, device)["implementation"] for k in args.neurons}
    except Exception as error:  # only informative
        sj_impls = {"?": repr(error)}
    print(
        f"device: {device_name}; peak {args.peak[0]:.0f} GB/s ({args.peak[1]}); N = {math.prod(args.shape)}; "
        f"spikingjelly implementation: {sj_impls} via {args.sj_api} API"
    )
    print(" | ".join(HEADERS))
    rows = measure_neurons(args, device)
    print_table(rows, f"fwd+bwd median of {args.iters} ({device_name})")
    for line in target_report(rows):
        print(line)
    if args.markdown:
        append_markdown(args.markdown, rows, device_name, args.peak, argv)
        print(f"appended to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
