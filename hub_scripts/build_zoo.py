#!/usr/bin/env python3
"""Rebuild the zoo's published checkpoints: run every recipe in recipes/zoo, collect the outputs.

    python hub_scripts/build_zoo.py                 # all recipes, two at a time
    python hub_scripts/build_zoo.py --only spiking_cnn_small.bkd_t4_digits

Each recipe runs as `accelerate launch hub_scripts/distill.py --recipe R --output runs/zoo/NAME`;
the publishable files are then copied to checkpoints/NAME/. Afterwards run
hub_scripts/make_model_cards.py to regenerate model_cards/ and the README table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_FILES = ("model.safetensors", "config.json", "results.json", "train_log.csv", "curves.png", "firing_rates.png")


def build(recipe: Path, runs: Path, checkpoints: Path, threads: int) -> tuple[str, int]:
    name = recipe.stem
    out = (runs / name).relative_to(ROOT) if (runs / name).is_relative_to(ROOT) else runs / name
    cmd = ["accelerate", "launch", "--num_processes", "1", "--cpu", "--num_cpu_threads_per_process", str(threads),
           "hub_scripts/distill.py", "--recipe", str(recipe.relative_to(ROOT)), "--output", str(out)]
    log = runs / f"{name}.log"
    runs.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        code = subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if code == 0:
        target = checkpoints / name
        target.mkdir(parents=True, exist_ok=True)
        for file in PUBLISHED_FILES:
            shutil.copy2(ROOT / out / file, target / file)
    return name, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default=str(ROOT / "recipes" / "zoo"))
    parser.add_argument("--only", nargs="*", help="recipe names (file stems) to run")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "zoo"))
    parser.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (tiny models: 1 is fastest)")
    args = parser.parse_args()
    recipes = sorted(Path(args.recipes).glob("*.yaml"))
    if args.only:
        recipes = [r for r in recipes if r.stem in args.only]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda r: build(r, Path(args.runs), Path(args.checkpoints), args.threads), recipes))
    for name, code in results:
        print(f"{'ok    ' if code == 0 else 'FAILED'} {name}" + ("" if code == 0 else f" (see {args.runs}/{name}.log)"))
    return 0 if all(code == 0 for _, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
