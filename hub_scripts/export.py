#!/usr/bin/env python3
"""Export a zoo model or checkpoint folder to NIR (neuromorphic hardware, other simulators) or ONNX.

    python hub_scripts/export.py checkpoints/spiking_cnn_small.bkd_t4_digits --format nir --output model.nir
    python hub_scripts/export.py sew_resnet18_cifar --format nir --pool sum --output sew18.nir
    python hub_scripts/export.py checkpoints/sew_resnet10_digits.bkd_t4_digits --format onnx --output m.onnx

NAME_OR_DIR is a checkpoint folder (model.safetensors + config.json) or a model name ('arch' or
'arch.tag'; add --pretrained to load the tag's weights). The sample input is one zero image of the
model's configured input size unless --input-size is given. A model NIR cannot express is refused in
one line naming the layer and why (exit status 2). NIR needs ``pip install "snn_zoo[nir]"``, ONNX
``pip install "snn_zoo[onnx]"``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import snn_zoo
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import snn_zoo
from snn_zoo.neurons.export import export_onnx


def _nir(model, sample, path: Path, args) -> Path:
    from snn_zoo.nir import write_nir

    return write_nir(model, sample, path, pool=args.pool, dt=args.dt)


def _onnx(model, sample, path: Path, args) -> Path:
    return export_onnx(model, sample, path)


FORMATS = {"nir": _nir, "onnx": _onnx}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", metavar="NAME_OR_DIR", help="checkpoint folder or model name")
    parser.add_argument(
        "--format", choices=sorted(FORMATS), required=True, help="nir (neuromorphic exchange) or onnx (unrolled over T)"
    )
    parser.add_argument("--output", type=Path, required=True, help="file to write")
    parser.add_argument("--pretrained", action="store_true", help="load the weights of an 'arch.tag' name")
    parser.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"), help="sample input size")
    parser.add_argument("--pool", choices=("avg", "sum"), default="avg", help="NIR pooling node (sum: Speck, norse)")
    parser.add_argument("--dt", type=float, default=1e-4, help="NIR seconds per time step (default 1e-4)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source = Path(args.source)
    try:
        if source.is_dir():
            model = snn_zoo.create_model(f"local-dir:{source}", pretrained=True)
        else:
            model = snn_zoo.create_model(args.source, pretrained=args.pretrained)
        size = args.input_size or (model.pretrained_cfg or {}).get("input_size")
        path = FORMATS[args.format](model.eval(), torch.zeros(1, *size), args.output, args)
    except (ValueError, ImportError, OSError) as error:  # refusals, bad names, missing extras, paths
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.format}, {path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
