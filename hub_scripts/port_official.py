#!/usr/bin/env python
"""Convert an official checkpoint (as its authors saved it) into a run folder for the Hub.

    python hub_scripts/port_official.py TAG CHECKPOINT --output DIR [--data-dir VAL] [--batch-size 64]
        [--max-batches N] [--energy-samples 16] [--device cpu]

TAG is a ported 'arch.tag' (see the "Ported official weights" table in README.md); CHECKPOINT the
authors' .pth / .pth.tar (read with torch.load(weights_only=True) and a narrow allowlist) or a
.safetensors. DIR (new, empty, or an earlier port of the same TAG, which is replaced whole) receives
what hub_scripts/push_to_hub.py publishes unchanged: model.safetensors, config.json, README.md (the
card) and results.json. With --data-dir (an ImageFolder of the validation split: one folder per
class, sorted class names = label order) the card and results.json also hold the top-1 / top-5,
firing rates, SOPs and energy measured here, kept apart from the authors' reported numbers.
The logic lives in snn_zoo.hub.port; hub_scripts/release.py does this for every tag at once.

Exit status: 0 on success, 2 on a bad tag, checkpoint, output or data folder (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    import snn_zoo  # noqa: F401
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch


def _json_object(text: str) -> dict:
    """--model-kwargs: a JSON object, or an error that shows one."""
    example = '\'{"num_classes": 7, "widths": [4, 8, 16, 32]}\''
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object such as {example}, got {text!r} ({e.msg})") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as {example}, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tag", help="ported checkpoint name 'arch.tag', e.g. sew_resnet18.sew_in1k")
    parser.add_argument("checkpoint", type=Path, help="the authors' .pth / .pth.tar (or a .safetensors)")
    parser.add_argument("--output", type=Path, required=True, help="run folder to write (new or empty)")
    parser.add_argument("--data-dir", type=Path, default=None, help="validation ImageFolder to measure on")
    parser.add_argument("--batch-size", type=int, default=64, help="images per validation batch")
    parser.add_argument("--max-batches", type=int, default=None, help="stop the accuracy pass after N batches")
    parser.add_argument("--energy-samples", type=int, default=16, help="images of the firing-rate / energy pass")
    parser.add_argument("--workers", type=int, default=4, help="data-loading worker processes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where to validate")
    parser.add_argument(
        "--model-kwargs",
        type=_json_object,
        default={},
        help="extra create_model kwargs as a JSON object (tests use tiny sizes), e.g. '{\"num_classes\": 7}'",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from snn_zoo.hub.port import port_checkpoint
    from snn_zoo.io import CheckpointError

    try:
        port_checkpoint(
            args.tag,
            args.checkpoint,
            args.output,
            data_dir=args.data_dir,
            batch_size=args.batch_size,
            max_batches=args.max_batches,
            energy_samples=args.energy_samples,
            workers=args.workers,
            device=args.device,
            model_kwargs=args.model_kwargs,
        )
    except (CheckpointError, ValueError, OSError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.output} (publish: python hub_scripts/push_to_hub.py {args.output} --repo-id snn-zoo/{args.tag})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
