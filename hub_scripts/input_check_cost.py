#!/usr/bin/env python3
"""Cost of SpikingModel's input checks (tensor, dtype, size, NaN/inf) relative to one forward, on the CPU.

    python hub_scripts/input_check_cost.py

Medians of repeated eval forwards (1 thread) with ``model.check_inputs`` on and off, and of the
checks alone; issue 11 requires them to stay under 1 % of a forward.
"""

import statistics
import time

import torch

import snn_zoo

torch.set_num_threads(1)


def med(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


for name, shape in [
    ("spiking_cnn_tiny", (1, 1, 8, 8)),
    ("spiking_cnn_small", (64, 1, 8, 8)),
    ("sew_resnet18_cifar", (8, 3, 32, 32)),
]:
    m = snn_zoo.create_model(name, T=4).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        m.check_inputs = True
        on = med(lambda m=m, x=x: m(x), 15)
        m.check_inputs = False
        off = med(lambda m=m, x=x: m(x), 15)
        check = med(lambda m=m, x=x: m._check_input_tensor(x), 200)
    print(
        f"{name} input {shape} T=4: forward {off * 1e3:.2f} ms (checks off) / {on * 1e3:.2f} ms (on); "
        f"the checks alone {check * 1e6:.1f} us = {100 * check / off:.3f} % of a forward"
    )
