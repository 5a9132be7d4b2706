#!/usr/bin/env python3
"""Distil (or train) a spiking network from a recipe: how every zoo checkpoint is made.

examples (tests/train/test_distill_script.py runs each of them with --print-plan):
  accelerate launch hub_scripts/distill.py
      the embedded default: BKD from an ANN teacher on scikit-learn's digits, CPU, minutes
  accelerate launch hub_scripts/distill.py --dataset imagefolder --data-dir DATA --img-size 16
      your own images (DATA/train/<class>/, DATA/val/<class>/): student and teacher chosen from the data
  accelerate launch hub_scripts/distill.py --recipe recipes/paper/sew_resnet18_cifar.bkd_t4_cifar10.yaml --data-dir DATA
      a published recipe (CIFAR-10 in DATA/cifar-10-batches-py)
  accelerate launch hub_scripts/distill.py --method kd --model-ema --opt sgd --lr 0.05 -b 32 --output runs/kd
      any recipe field as a flag; switches as in timm's train.py
  accelerate launch --num_processes 2 --cpu hub_scripts/distill.py --output runs/kd --resume
      continue a run from its last finished epoch

Every recipe field is a flag (below, grouped as in timm's train.py, with its default, choices and range).
Exit codes: 0 done, 2 bad input (said before any work), 3 a non-finite loss stopped training.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from snn_zoo.data import DatasetError
from snn_zoo.hub import CheckpointError
from snn_zoo.train import NonFiniteLossError, add_recipe_arguments, recipe_from_args, train_from_recipe
from snn_zoo.train.plan import RunPlan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recipe_arguments(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output from its last finished epoch (timm's --resume takes a checkpoint "
        "path; here the run folder holds everything)",
    )
    parser.add_argument(
        "--print-plan", action="store_true", help="print the run plan (models, data, batch, precision) and exit"
    )
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
        if args.print_plan:
            print(RunPlan.from_recipe(recipe).summary())
            return 0
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
    print(summary_line(results, results["recipe"]["output"] or f"runs/{results['name']}"))
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
