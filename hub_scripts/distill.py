#!/usr/bin/env python3
"""Distil (or train) a spiking network from a recipe: how every zoo checkpoint is made.

    python hub_scripts/distill.py                       # embedded default: digits, BKD, CPU, minutes
    accelerate launch hub_scripts/distill.py --recipe recipes/sew_resnet18.bkd_t4_cifar10.yaml --data-dir D
    accelerate launch --num_processes 2 --cpu hub_scripts/distill.py --epochs 2 --resume

Every recipe field is also a flag (``--lr``, ``--epochs``, ``--loss-weights alpha=0.002`` ...).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from snn_zoo.data import DatasetError
from snn_zoo.hub import CheckpointError
from snn_zoo.train import NonFiniteLossError, add_recipe_arguments, recipe_from_args, train_from_recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recipe_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT/state (the last finished epoch)")
    args = parser.parse_args(argv)
    command = "accelerate launch hub_scripts/distill.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    try:
        recipe = recipe_from_args(args)
        results = train_from_recipe(recipe, resume=args.resume, command=command.strip())
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{results['name']}: top-1 {results['top1']:.2f}% (teacher {results['teacher_top1']}), "
          f"T={results['T']}, {results['train_seconds']:.0f} s -> {recipe.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
