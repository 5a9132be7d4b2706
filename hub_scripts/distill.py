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
    parser.add_argument(
        "--allow-recipe-change",
        default="",
        metavar="FIELDS",
        help="with --resume: comma-separated recipe fields that may differ from the saved run "
        "(only epochs, teacher_epochs, max_steps_per_epoch, cooldown_epochs)",
    )
    args = parser.parse_args(argv)
    command = "accelerate launch hub_scripts/distill.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    try:
        recipe = recipe_from_args(args)
        allow = [f.strip().replace("-", "_") for f in args.allow_recipe_change.split(",") if f.strip()]
        results = train_from_recipe(recipe, resume=args.resume, command=command.strip(), allow_changes=allow)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk (snn_zoo.io.NoSpaceError says the last good state is intact), permissions
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary_line(results, recipe.output_dir))
    return 0


def summary_line(results: dict, output) -> str:
    """'name: top-1 99.17% (teacher spiking_cnn_base 98.89%), T=4, 61 s -> DIR' (no teacher part without one)."""
    teacher = ""
    if results.get("teacher_top1") is not None:
        teacher = f" (teacher {results['teacher']} {results['teacher_top1']:.2f}%)"
    return (
        f"{results['name']}: top-1 {results['top1']:.2f}%{teacher}, T={results['T']}, "
        f"{results['train_seconds']:.0f} s -> {output}"
    )


if __name__ == "__main__":
    sys.exit(main())
