#!/usr/bin/env python3
"""Benchmark snn_zoo models: samples per second and peak step memory (timm's benchmark.py, with T).

    python hub_scripts/benchmark.py --model sew_resnet18_cifar --T 4 -b 32 --img-size 32 --neuron lif
    python hub_scripts/benchmark.py --model sew_resnet18_cifar --T 4 -b 32 --compare spikingjelly --floor \
        --modes eager,eager+bf16,compile,compile+bf16
    python hub_scripts/benchmark.py --model sew_resnet18_cifar --T 8 -b 16 --train --modes eager,eager+ckpt-packed
    python hub_scripts/benchmark.py --model spiking_cnn_small --T 4 -b 64 --kd-overhead --teacher spiking_cnn_base
    python hub_scripts/benchmark.py --model "spiking_cnn_*" --infer --device cuda --compile --amp bf16

A mode is ``eager|compile`` plus optional ``+bf16`` / ``+fp16`` (autocast), ``+channels_last``,
``+ckpt-block`` / ``+ckpt-packed`` (per-block gradient checkpointing; packed: spikes at 1 bit).
``--compile``, ``--amp``, ``--channels-last`` and ``--grad-checkpointing`` set a single mode;
``--modes`` lists several, all timed in one process with their steps interleaved.

--compare spikingjelly also times spikingjelly 2.0's build of the same architecture (same neuron, tau,
surrogate, reset, stem, T, batch; parameter counts within 1 %, weights copied where names match) in every mode
(its own torch.compile and autocast too; checkpointing is ours only) and prints the ratio
snn_zoo / spikingjelly per mode and best mode against best mode. --floor also times the same network
with its neurons replaced by ReLU on a T x B batch (the convolution floor) and prints SNN / floor.
--kd-overhead times one training step with plain CE and one with
snn_zoo.distill.Distiller(student, teacher, method='bkd') (teacher: the ANN twin unless --teacher).
--readme FILE rewrites the "Speed and memory" table between its markers with this run's rows.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

try:
    import snn_zoo  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from snn_zoo.eval.benchmark import RunMode, benchmark_models, kd_overhead, relu_floor, spikingjelly_equivalent
from snn_zoo.eval.validate import ValidationError, expand_model_names, write_results
from snn_zoo.factory import create_model
from snn_zoo.neurons import NEURON_CHOICES
from snn_zoo.train.precision import cpuinfo_values

_COLUMNS = (
    ("model", "{:<20}"),
    ("impl", "{:<13}"),
    ("mode", "{:<24}"),
    ("T", "{:>3}"),
    ("batch", "{:>6}"),
    ("infer img/s", "{:>12}"),
    ("infer ms", "{:>10}"),
    ("train img/s", "{:>12}"),
    ("train ms", "{:>10}"),
    ("train MiB", "{:>10}"),
    ("params", "{:>12}"),
)
_AMP = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
README_START, README_END = "<!-- speed-table:start -->", "<!-- speed-table:end -->"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the flag's name is added by argparse)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def parse_mode(text: str) -> RunMode:
    """'compile+bf16+channels_last+ckpt-packed' -> RunMode; raises ValueError naming the bad part."""
    parts = text.split("+")
    if parts[0] not in ("eager", "compile"):
        raise ValueError(f"mode {text!r} must start with 'eager' or 'compile'.")
    kwargs: dict[str, Any] = {"compile": parts[0] == "compile"}
    for part in parts[1:]:
        if part in _AMP:
            kwargs["amp_dtype"] = _AMP[part]
        elif part == "channels_last":
            kwargs["channels_last"] = True
        elif part in ("ckpt-block", "ckpt-packed"):
            kwargs["grad_checkpointing"] = part.split("-", 1)[1]
        elif part == "cupy":  # the fused cupy neuron kernel, kept under torch.compile (CUDA)
            kwargs["neuron_backend"] = part
        else:
            raise ValueError(
                f"unknown part {part!r} in mode {text!r}; use bf16, fp16, channels_last, ckpt-block, ckpt-packed "
                f"or cupy."
            )
    return RunMode(**kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", "-m", required=True, help="model name or wildcard ('sew*')")
    p.add_argument("--T", type=positive_int, default=None, help="time steps (default: the model's)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=32, help="images per step (default 32)")
    p.add_argument("--img-size", type=positive_int, default=None, help="input height = width (default: model cfg)")
    p.add_argument("--in-chans", type=int, default=None, help="input channels (default: the model cfg's)")
    p.add_argument("--num-classes", type=int, default=None, help="classes (default: the model cfg's)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to run (default cpu)")
    p.add_argument("--neuron", default=None, choices=NEURON_CHOICES, help="neuron type (default: the model's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (compile time is not timed)")
    p.add_argument(
        "--amp",
        nargs="?",
        const="default",
        default=None,
        choices=("default", "bf16", "fp16"),
        help="autocast: --amp bf16 | fp16; bare --amp is bf16 on CPU, fp16 on CUDA",
    )
    p.add_argument("--amp-dtype", default=None, choices=("float16", "bfloat16"), help="same as --amp DTYPE")
    p.add_argument("--channels-last", action="store_true", help="model and input in channels-last layout")
    p.add_argument(
        "--grad-checkpointing",
        default=None,
        choices=("block", "packed"),
        help="per-block gradient checkpointing (packed: binary block inputs at 1 bit)",
    )
    p.add_argument(
        "--modes",
        default=None,
        help="comma-separated modes timed together, e.g. eager,compile+bf16,compile+bf16+cupy (+cupy: the fused "
        "neuron kernel under compile, CUDA only; overrides the flags above)",
    )
    p.add_argument("--num-warm-iter", type=int, default=2, help="untimed steps before timing (default 2)")
    p.add_argument("--num-bench-iter", type=int, default=5, help="timed steps; the median is reported (default 5)")
    p.add_argument("--train", action="store_true", help="benchmark training (default: train and infer)")
    p.add_argument("--infer", action="store_true", help="benchmark inference (default: train and infer)")
    p.add_argument("--compare", default=None, choices=("spikingjelly",), help="also time spikingjelly's equivalent")
    p.add_argument("--floor", action="store_true", help="also time the ReLU twin on a T x B batch (conv floor)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory step")
    p.add_argument("--kd-overhead", action="store_true", help="time a CE step vs a Distiller step")
    p.add_argument("--kd-method", default="bkd", help="Distiller method for --kd-overhead (default: bkd)")
    p.add_argument("--teacher", default=None, help="teacher for --kd-overhead (default: the ANN twin)")
    p.add_argument("--results-file", default=None, help="write rows as csv or json (by extension)")
    p.add_argument("--readme", default=None, help="rewrite the table between the speed-table markers of this file")
    return p


def _modes(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[RunMode]:
    if args.modes:
        try:
            return [parse_mode(m.strip()) for m in args.modes.split(",") if m.strip()]
        except ValueError as e:
            parser.error(str(e))
    amp = args.amp_dtype or args.amp
    if amp == "default":
        amp = "bf16" if args.device == "cpu" else "fp16"
    if args.device == "cpu" and amp in ("fp16", "float16"):
        parser.error("CPU autocast runs bfloat16; use --amp bf16.")
    return [
        RunMode(
            compile=args.compile,
            amp_dtype=_AMP[amp] if amp else None,
            channels_last=args.channels_last,
            grad_checkpointing=args.grad_checkpointing or "",
        )
    ]


def _fmt(value: Any, spec: str = "{:.2f}") -> str:
    return "-" if value is None else spec.format(value)


def _table_row(r: dict) -> str:
    values = (
        r["model"],
        r["impl"],
        r["mode"],
        r["T"],
        r["batch_size"],
        _fmt(r.get("infer_samples_per_sec")),
        _fmt(r.get("infer_step_time_ms"), "{:.1f}"),
        _fmt(r.get("train_samples_per_sec")),
        _fmt(r.get("train_step_time_ms"), "{:.1f}"),
        _fmt(r.get("train_peak_mem_mb"), "{:.0f}"),
        f"{r['param_count']:,}",
    )
    return "  ".join(spec.format(v) for (_, spec), v in zip(_COLUMNS, values))


def _header() -> str:
    return "  ".join(spec.replace(">", "<" if i < 3 else ">").format(name) for i, (name, spec) in enumerate(_COLUMNS))


def _candidates(name: str, args: argparse.Namespace, modes: list[RunMode]) -> tuple[dict, dict, dict]:
    """(label -> model, label -> RunMode, label -> batch size) for ours, spikingjelly and the floor."""
    build = {
        k: v
        for k, v in dict(T=args.T, neuron=args.neuron, num_classes=args.num_classes, in_chans=args.in_chans).items()
        if v is not None
    }
    models, run_modes, batches = {}, {}, {}
    ours_state = None
    for mode in modes:
        ours = create_model(name, **build, **({"backend": mode.neuron_backend} if mode.neuron_backend else {}))
        if ours_state is None:
            ours_state = ours.state_dict()
        ours.load_state_dict(ours_state)  # one set of weights across modes: same spikes, same work
        label = f"snn_zoo|{mode.label}"
        models[label], run_modes[label] = ours, mode
        plain = RunMode(mode.compile, mode.amp_dtype, mode.channels_last)  # no checkpointing on the others
        if args.compare == "spikingjelly":
            sj = spikingjelly_equivalent(
                name,
                **ours.snn_args,
                num_classes=ours.num_classes,
                in_chans=ours.in_chans,
                connect=getattr(ours, "connect", None) or "ADD",
            )
            n_ours, n_sj = (sum(p.numel() for p in m.parameters()) for m in (ours, sj))
            if abs(n_ours - n_sj) > 0.01 * n_ours:
                raise ValidationError(
                    f"{name}: snn_zoo has {n_ours:,} parameters, spikingjelly's equivalent "
                    f"{n_sj:,}; the architectures differ, so the timing would not compare."
                )
            # Same names (the ResNets): same weights, same spikes; other names (Spikformer): own initialisation.
            with contextlib.suppress(RuntimeError):
                sj.net.load_state_dict(ours_state)
            label = f"spikingjelly|{plain.label}"
            models[label], run_modes[label] = sj, plain
        if args.floor:
            floor, T = relu_floor(name, **build)
            label = f"relu floor|{plain.label}"
            models[label], run_modes[label], batches[label] = floor, plain, T * args.batch_size
    return models, run_modes, batches


def _ratios(name: str, rows: dict[str, dict], modes: dict[str, bool]) -> list[str]:
    """Ratio lines: per mode and best against best, from mean step times in this one run."""
    lines = []
    by_impl: dict[str, dict[str, dict]] = {}
    for label, r in rows.items():
        impl, mode = label.split("|")
        by_impl.setdefault(impl, {})[mode] = r
    ours = by_impl.get("snn_zoo", {})
    for m, on in modes.items():
        if not on:
            continue
        key = f"{m}_step_time_ms"
        for other, pretty in (
            ("spikingjelly", "snn_zoo speed / spikingjelly (>1: snn_zoo faster)"),
            ("relu floor", "snn_zoo step / ReLU floor on T x B (1 = the floor)"),
        ):
            theirs = by_impl.get(other)
            if not theirs:
                continue
            per_mode = []
            for mode, r in ours.items():
                plain = mode.split("+ckpt")[0].replace("+cupy", "")
                if plain in theirs:
                    ratio = (theirs[plain][key] / r[key]) if other == "spikingjelly" else (r[key] / theirs[plain][key])
                    per_mode.append(f"{mode} {ratio:.2f}x")
            best_ours = min(r[key] for r in ours.values())
            best_theirs = min(r[key] for r in theirs.values())
            best = best_theirs / best_ours if other == "spikingjelly" else best_ours / best_theirs
            lines.append(f"{name} {m}: {pretty}: {', '.join(per_mode)}; best mode vs best mode {best:.2f}x")
        first = [
            f"{impl} {mode} {r[f'{m}_first_step_ms'] / 1e3:.1f} s"
            for impl, impl_rows in by_impl.items()
            if impl != "relu floor"
            for mode, r in impl_rows.items()
            if mode.startswith("compile") and f"{m}_first_step_ms" in r
        ]
        if first:
            lines.append(f"{name} {m}: first step (compile time + one step): {', '.join(first)}")
    return lines


def _machine(device: str) -> str:
    """'<date>, <CPU model>, <n> cores, torch <v>' (or the GPU's name): where a table's figures come from."""
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
    else:
        models = cpuinfo_values("model name")
        name = f"{models[0] if models else platform.processor() or 'CPU'}, {os.cpu_count()} cores"
    return f"{datetime.date.today().isoformat()}, {name}, torch {torch.__version__}"


def _markdown(rows: list[dict], command: str, ratios: list[str]) -> str:
    head = (
        "| model | impl | mode | T | batch | infer img/s | train img/s | train ms | train peak MiB |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    body = [
        f"| {r['model']} | {r['impl']} | {r['mode']} | {r['T']} | {r['batch_size']} | "
        f"{_fmt(r.get('infer_samples_per_sec'), '{:.1f}')} | {_fmt(r.get('train_samples_per_sec'), '{:.1f}')} | "
        f"{_fmt(r.get('train_step_time_ms'), '{:.0f}')} | {_fmt(r.get('train_peak_mem_mb'), '{:.0f}')} |"
        for r in rows
    ]
    lines = [f"Generated on {_machine(rows[0]['device'] if rows else 'cpu')} by `{command}`:", "", head, *body]
    return "\n".join([*lines, "", *(f"- {line}" for line in ratios)] if ratios else lines)


def write_readme_table(path: str, table: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise ValidationError(f"{path} has no {README_START} ... {README_END} markers; add them where the table goes.")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    Path(path).write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.amp_dtype is not None and args.amp is None:
        parser.error("--amp-dtype needs --amp")
    modes = _modes(args, parser)
    which = {"infer": args.infer or not args.train, "train": args.train or not args.infer}
    rows: list[dict] = []
    try:
        names = expand_model_names(args.model)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValidationError("--device cuda was requested but no CUDA GPU is available; use --device cpu.")
        if args.kd_overhead:
            for name in names:
                r = kd_overhead(
                    name,
                    T=args.T,
                    batch_size=args.batch_size,
                    img_size=args.img_size,
                    device=args.device,
                    neuron=args.neuron,
                    num_warm_iter=args.num_warm_iter,
                    num_bench_iter=args.num_bench_iter,
                    method=args.kd_method,
                    teacher=args.teacher,
                    num_classes=args.num_classes,
                    in_chans=args.in_chans,
                )
                print(
                    f"{name}: CE step {r['ce_step_time_ms']:.1f} ms, Distiller(method={r['method']!r}, "
                    f"teacher={r['teacher']}) step {r['kd_step_time_ms']:.1f} ms -> "
                    f"KD overhead {r['kd_overhead']:.2f}x (T={r['T']}, batch {r['batch_size']}, {r['device']})"
                )
                rows.append(r)
        else:
            print(_header())
            lines = []
            for name in names:
                models, run_modes, batches = _candidates(name, args, modes)
                first = next(iter(models.values()))
                img_size = args.img_size or first.pretrained_cfg["input_size"][-1]  # wrappers have no cfg
                result = benchmark_models(
                    models,
                    batch_size=args.batch_size,
                    img_size=img_size,
                    device=args.device,
                    num_warm_iter=args.num_warm_iter,
                    num_bench_iter=args.num_bench_iter,
                    in_chans=first.in_chans,
                    train=which["train"],
                    infer=which["infer"],
                    modes=run_modes,
                    batch_sizes=batches,
                    measure_memory=not args.no_memory,
                )
                for label, r in result.items():
                    r.update(model=name, impl=label.split("|")[0], neuron=first.neuron)
                    print(_table_row(r), flush=True)
                    rows.append(r)
                lines += _ratios(name, result, which)
            for line in lines:
                print(line)
            if args.readme:
                outputs = ("--readme", "--results-file")  # where this run writes, not what it measures
                shown = [a for i, a in enumerate(argv) if a not in outputs and (i == 0 or argv[i - 1] not in outputs)]
                command = "python hub_scripts/benchmark.py " + " ".join(shlex.quote(a) for a in shown)
                write_readme_table(args.readme, _markdown(rows, command, lines))
                print(f"table written to {args.readme}")
    except (ValidationError, NotImplementedError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.results_file:
        print(f"--result written to {write_results(rows, args.results_file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
