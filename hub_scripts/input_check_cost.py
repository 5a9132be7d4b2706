#!/usr/bin/env python3
"""Cost of SpikingModel's input checks (tensor, dtype, size, NaN/inf) relative to one forward, on the CPU.

    python hub_scripts/input_check_cost.py

Medians of repeated eval forwards (1 thread) with ``model.check_inputs`` on and off, and of the
checks alone; issue 11 requires them to stay under 1 % of a forward.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import snn_zoo

CASES = [
    ("spiking_cnn_tiny", (1, 1, 8, 8)),
    ("spiking_cnn_small", (64, 1, 8, 8)),
    ("sew_resnet18_cifar", (8, 3, 32, 32)),
]


def med(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="forwards per median (default 15)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name, shape in CASES:
        m = snn_zoo.create_model(name, T=4).eval()
        x = torch.rand(*shape)
        with torch.no_grad():
            m.check_inputs = True
            on = med(lambda m=m, x=x: m(x), args.repeats)
            m.check_inputs = False
            off = med(lambda m=m, x=x: m(x), args.repeats)
            check = med(lambda m=m, x=x: m._check_input_tensor(x), 200)
        print(
            f"{name} input {shape} T=4: forward {off * 1e3:.2f} ms (checks off) / {on * 1e3:.2f} ms (on); "
            f"the checks alone {check * 1e6:.1f} us = {100 * check / off:.3f} % of a forward"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
