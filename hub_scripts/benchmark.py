#!/usr/bin/env python3
"""Benchmark snn_zoo models: inference / training samples per second (timm's benchmark.py, with T).

    python hub_scripts/benchmark.py --model sew_resnet18_cifar --T 4 -b 32 --img-size 32 --neuron lif
    python hub_scripts/benchmark.py --model sew_resnet18_cifar --T 4 -b 32 --compare spikingjelly
    python hub_scripts/benchmark.py --model spiking_cnn_tiny --T 4 -b 64 --kd-overhead
    python hub_scripts/benchmark.py --model "spiking_cnn_*" --infer --device cuda

--compare spikingjelly times spikingjelly 2.0's build of the same architecture (same neuron, tau,
surrogate, reset, stem, T, batch; parameter counts asserted equal, weights copied) in this process,
steps interleaved with ours, and prints the ratio snn_zoo / spikingjelly. --kd-overhead times one training step with plain CE
and one with snn_zoo.distill.Distiller(student, teacher, method='bkd') (teacher: the ANN twin).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

try:
    import snn_zoo  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from snn_zoo.eval.benchmark import benchmark_model, benchmark_models, kd_overhead, spikingjelly_equivalent
from snn_zoo.eval.validate import ValidationError, expand_model_names, resolve_amp_dtype, write_results
from snn_zoo.factory import create_model
from snn_zoo.neurons import NEURON_CHOICES

_COLUMNS = (("model", "{:<22}"), ("impl", "{:<13}"), ("T", "{:>3}"), ("batch", "{:>6}"), ("img", "{:>5}"),
            ("infer img/s", "{:>12}"), ("infer ms", "{:>10}"), ("train img/s", "{:>12}"), ("train ms", "{:>10}"),
            ("params", "{:>12}"))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the flag's name is added by argparse)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", "-m", required=True, help="model name or wildcard ('sew*')")
    p.add_argument("--T", type=positive_int, default=None, help="time steps (default: the model's)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=32)
    p.add_argument("--img-size", type=positive_int, default=None, help="input height = width (default: the model's cfg)")
    p.add_argument("--in-chans", type=int, default=None)
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--neuron", default=None, choices=NEURON_CHOICES)
    p.add_argument("--amp", action="store_true", help="autocast: bfloat16 on CPU, float16 (or --amp-dtype) on CUDA")
    p.add_argument("--amp-dtype", default=None, choices=("float16", "bfloat16"))
    p.add_argument("--num-warm-iter", type=int, default=2)
    p.add_argument("--num-bench-iter", type=int, default=5)
    p.add_argument("--train", action="store_true", help="benchmark training (default: train and infer)")
    p.add_argument("--infer", action="store_true", help="benchmark inference (default: train and infer)")
    p.add_argument("--compare", default=None, choices=("spikingjelly",), help="also time spikingjelly's equivalent")
    p.add_argument("--kd-overhead", action="store_true", help="time a CE step vs a Distiller step")
    p.add_argument("--kd-method", default="bkd", help="Distiller method for --kd-overhead (default: bkd)")
    p.add_argument("--teacher", default=None, help="teacher for --kd-overhead (default: the ANN twin)")
    p.add_argument("--results-file", default=None, help="write rows as csv or json (by extension)")
    return p


def _fmt(value: Any, spec: str = "{:.2f}") -> str:
    return "-" if value is None else spec.format(value)


def _table_row(r: dict) -> str:
    values = (r["model"], r["impl"], r["T"], r["batch_size"], r["img_size"],
              _fmt(r.get("infer_samples_per_sec")), _fmt(r.get("infer_step_time_ms"), "{:.1f}"),
              _fmt(r.get("train_samples_per_sec")), _fmt(r.get("train_step_time_ms"), "{:.1f}"),
              f"{r['param_count']:,}")
    return "  ".join(spec.format(v) for (_, spec), v in zip(_COLUMNS, values))


def _header() -> str:
    return "  ".join(spec.replace(">", "<" if i < 2 else ">").format(name) for i, (name, spec) in enumerate(_COLUMNS))


def _compare(name: str, args: argparse.Namespace, modes: dict, amp_dtype) -> list[dict]:
    ours = create_model(name, **{k: v for k, v in dict(T=args.T, neuron=args.neuron, num_classes=args.num_classes,
                                                      in_chans=args.in_chans).items() if v is not None})
    sj = spikingjelly_equivalent(name, **ours.snn_args, num_classes=ours.num_classes, in_chans=ours.in_chans,
                                 connect=getattr(ours, "connect", None) or "ADD")
    n_ours, n_sj = (sum(p.numel() for p in m.parameters()) for m in (ours, sj))
    if n_ours != n_sj:
        raise ValidationError(f"{name}: snn_zoo has {n_ours:,} parameters, spikingjelly's equivalent {n_sj:,}; "
                              f"the architectures differ, so the timing would not compare like with like.")
    sj.net.load_state_dict(ours.state_dict())  # same weights: same spikes, same work
    img_size = args.img_size or ours.pretrained_cfg["input_size"][-1]  # the wrapper has no cfg of its own
    # One process, same input batch, steps interleaved snn_zoo / spikingjelly: load drift hits both alike.
    rows = benchmark_models({"snn_zoo": ours, "spikingjelly": sj}, batch_size=args.batch_size, img_size=img_size,
                            device=args.device, amp_dtype=amp_dtype, num_warm_iter=args.num_warm_iter,
                            num_bench_iter=args.num_bench_iter, in_chans=ours.in_chans, train=modes["train"],
                            infer=modes["infer"])
    for impl, r in rows.items():
        r.update(model=name, impl=impl, neuron=ours.neuron)
    return [rows["snn_zoo"], rows["spikingjelly"]]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.amp_dtype is not None and not args.amp:
        parser.error("--amp-dtype needs --amp")
    modes = {"infer": args.infer or not args.train, "train": args.train or not args.infer}
    try:
        names = expand_model_names(args.model)
        amp_dtype = resolve_amp_dtype(args.amp, torch.device(args.device), args.amp_dtype)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValidationError("--device cuda was requested but no CUDA GPU is available; use --device cpu.")
        if args.kd_overhead:
            rows = []
            for name in names:
                r = kd_overhead(name, T=args.T, batch_size=args.batch_size, img_size=args.img_size,
                                device=args.device, neuron=args.neuron, num_warm_iter=args.num_warm_iter,
                                num_bench_iter=args.num_bench_iter, method=args.kd_method, teacher=args.teacher,
                                num_classes=args.num_classes, in_chans=args.in_chans)
                print(f"{name}: CE step {r['ce_step_time_ms']:.1f} ms, Distiller(method={r['method']!r}, "
                      f"teacher={r['teacher']}) step {r['kd_step_time_ms']:.1f} ms -> "
                      f"KD overhead {r['kd_overhead']:.2f}x (T={r['T']}, batch {r['batch_size']}, {r['device']})")
                rows.append(r)
        else:
            rows = []
            print(_header())
            for name in names:
                if args.compare == "spikingjelly":
                    pair = _compare(name, args, modes, amp_dtype)
                    for r in pair:
                        print(_table_row(r))
                    ours, sj = pair
                    ratios = [f"{m} {ours[f'{m}_samples_per_sec'] / sj[f'{m}_samples_per_sec']:.2f}x "
                              f"(median step {sj[f'{m}_step_time_ms_median'] / ours[f'{m}_step_time_ms_median']:.2f}x)"
                              for m, on in modes.items() if on]
                    print(f"ratio snn_zoo/spikingjelly (samples/s, >1 = snn_zoo faster): {', '.join(ratios)}")
                    rows.extend(pair)
                else:
                    r = benchmark_model(name, T=args.T, batch_size=args.batch_size, img_size=args.img_size,
                                        device=args.device, neuron=args.neuron, num_warm_iter=args.num_warm_iter,
                                        num_bench_iter=args.num_bench_iter, train=modes["train"],
                                        infer=modes["infer"], num_classes=args.num_classes,
                                        in_chans=args.in_chans, amp_dtype=amp_dtype)
                    r["impl"] = "snn_zoo"
                    print(_table_row(r))
                    rows.append(r)
    except (ValidationError, NotImplementedError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.results_file:
        print(f"--result written to {write_results(rows, args.results_file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
