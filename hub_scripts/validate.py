#!/usr/bin/env python3
"""Validate snn_zoo models: top-1/top-5, firing rates, SynOps and energy per image (timm's validate.py).

    python hub_scripts/validate.py runs/spiking_cnn_small.bkd_t4_digits   # a training run: its own data, no flags
    python hub_scripts/validate.py --model spiking_cnn_tiny --dataset digits
    python hub_scripts/validate.py --model "sew*" --dataset digits --max-batches 2 --results-file r.csv
    python hub_scripts/validate.py --checkpoint output/run1 --dataset cifar10 --data-dir D --amp
    python hub_scripts/validate.py --model sew_resnet18_cifar --checkpoint run/model.safetensors \\
        --dataset cifar10 --data-dir D --T 4 --results-format json --results-file r.json --firing-plot fr.png

--model accepts wildcards (one results row per matching model). Checkpoints load from safetensors
only (a run folder holding model.safetensors, or the file). Energy follows spikingjelly's op_counter
conventions (E_MAC 4.6 pJ, E_AC 0.9 pJ, 45 nm fp32) and is counted on the first batch (see snn_zoo.metrics.energy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import snn_zoo  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snn_zoo.data import DatasetError, list_datasets
from snn_zoo.eval.validate import ValidationError, format_row, validate_models, write_results
from snn_zoo.neurons import NEURON_CHOICES


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the flag's name is added by argparse)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model",
        "-m",
        default=None,
        help="model name, 'arch.tag', 'hf-hub:org/name', or a wildcard such as 'sew*' "
        "(optional with a --checkpoint folder whose config.json names the architecture)",
    )
    p.add_argument("--pretrained", action="store_true", help="load the registry's pretrained weights")
    p.add_argument(
        "run", nargs="?", default=None, metavar="RUN_DIR", help="a training run's folder (same as --checkpoint)"
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="run folder with model.safetensors, or a .safetensors file; a training run's folder also gives the "
        "validation data it was measured on (its results.json), unless --dataset / --img-size say otherwise",
    )
    p.add_argument("--data-dir", default=None, help="dataset root (not needed for digits, digits_dvs, synthetic)")
    p.add_argument(
        "--dataset",
        default=None,
        help=f"one of: {', '.join(list_datasets())} (default: a run folder's own, else digits)",
    )
    p.add_argument("--split", default="val", help="dataset split (default: val)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=64, help="evaluation batch size")
    p.add_argument("-j", "--workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--T", type=positive_int, default=None, help="time steps (default: the model's / checkpoint's)")
    p.add_argument("--neuron", default=None, choices=NEURON_CHOICES, help="neuron type ('relu' = ANN twin)")
    p.add_argument("--amp", action="store_true", help="autocast: bfloat16 on CPU, float16 (or --amp-dtype) on CUDA")
    p.add_argument("--amp-dtype", default=None, choices=("float16", "bfloat16"), help="autocast dtype with --amp")
    p.add_argument("--num-classes", type=int, default=None, help="classes (default: the dataset's)")
    p.add_argument("--in-chans", type=int, default=None, help="input channels (default: the dataset's)")
    p.add_argument("--img-size", type=positive_int, default=None, help="input height = width (default: the dataset's)")
    p.add_argument("--max-batches", type=int, default=None, help="evaluate at most this many batches")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--no-energy", action="store_true", help="skip firing rates / SynOps / energy")
    p.add_argument("--results-file", default=None, help="write the results rows here")
    p.add_argument(
        "--results-format",
        default=None,
        choices=("csv", "json"),
        help="results file format (default: from the extension, else csv); per-layer rates: json only",
    )
    p.add_argument("--firing-plot", default=None, help="PNG of per-layer firing rates (one per model with wildcards)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.amp_dtype is not None and not args.amp:
        parser.error("--amp-dtype needs --amp")
    if args.run and args.checkpoint and args.run != args.checkpoint:
        parser.error("give the run folder once: RUN_DIR or --checkpoint")
    args.checkpoint = args.checkpoint or args.run
    try:
        rows = validate_models(
            args.model,
            pretrained=args.pretrained,
            checkpoint=args.checkpoint,
            firing_plot=args.firing_plot,
            dataset=args.dataset,
            data_dir=args.data_dir,
            split=args.split,
            batch_size=args.batch_size,
            T=args.T,
            neuron=args.neuron,
            amp=args.amp,
            amp_dtype=args.amp_dtype,
            num_classes=args.num_classes,
            in_chans=args.in_chans,
            img_size=args.img_size,
            max_batches=args.max_batches,
            device=args.device,
            workers=args.workers,
            energy=not args.no_energy,
            progress=not args.no_progress,
        )
    except (ValidationError, DatasetError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for row in rows:
        print(format_row(row))
    if args.results_file:
        path = write_results(rows, args.results_file, args.results_format)
        print(f"--result written to {path}")
    else:
        print("--result")
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
