#!/usr/bin/env python3
"""Rebuild the zoo's published checkpoints: run every recipe in recipes/zoo for each seed, collect the outputs.

    python hub_scripts/build_zoo.py                                  # all recipes, seeds 0 1 2, two runs at a time
    python hub_scripts/build_zoo.py --only spiking_cnn_small.bkd_t4_digits --seeds 0

Each (recipe, seed) runs as
`accelerate launch hub_scripts/distill.py --recipe R --seed S --output runs/zoo/NAME/seedS`.
Only when every seed of a recipe finished are its publishable files copied to checkpoints/NAME/:
the weights and logs of the first seed, and a results.json that adds the per-seed figures
(``seed_results``) and their mean and sample standard deviation (``top1_mean``, ``top1_std``).
A recipe with a failed seed leaves checkpoints/NAME/ untouched. Afterwards run
hub_scripts/make_model_cards.py to regenerate model_cards/ and the README tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_FILES = ("model.safetensors", "config.json", "train_log.csv", "curves.png", "firing_rates.png")
PER_SEED_KEYS = ("seed", "top1", "top5", "teacher_top1", "mean_firing_rate", "sops_per_image", "train_seconds")


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it (the command recorded in results.json stays portable)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_one(recipe: Path, seed: int, runs: Path, threads: int) -> tuple[str, int, int, Path]:
    """Train one recipe at one seed; returns (name, seed, exit code, output folder)."""
    name = recipe.stem
    out = runs / name / f"seed{seed}"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "accelerate",
        "launch",
        "--num_processes",
        "1",
        "--cpu",
        "--num_cpu_threads_per_process",
        str(threads),
        "hub_scripts/distill.py",
        "--recipe",
        _shown(recipe),
        "--seed",
        str(seed),
        "--output",
        _shown(out),
    ]
    with (runs / name / f"seed{seed}.log").open("w") as f:
        code = subprocess.call(
            cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS=str(threads))
        )
    return name, seed, code, out


def aggregate(per_seed: list[dict]) -> dict:
    """The first seed's results.json plus every seed's headline figures, their mean and std."""
    per_seed = sorted(per_seed, key=lambda r: r["seed"])
    top1 = [r["top1"] for r in per_seed]
    merged = dict(per_seed[0])
    merged.update(
        seeds=[r["seed"] for r in per_seed],
        seed_results=[{k: r.get(k) for k in PER_SEED_KEYS} for r in per_seed],
        top1_mean=round(statistics.fmean(top1), 4),
        top1_std=round(statistics.stdev(top1), 4) if len(top1) > 1 else 0.0,
        train_seconds_mean=round(statistics.fmean(r["train_seconds"] for r in per_seed), 2),
        checkpoint_seed=per_seed[0]["seed"],
    )
    teachers = [r["teacher_top1"] for r in per_seed if r.get("teacher_top1") is not None]
    if teachers:
        merged["teacher_top1_mean"] = round(statistics.fmean(teachers), 4)
        merged["teacher_top1_std"] = round(statistics.stdev(teachers), 4) if len(teachers) > 1 else 0.0
    return merged


def publish(name: str, outputs: list[Path], checkpoints: Path) -> None:
    """Copy the first seed's files and the aggregated results.json to checkpoints/NAME (atomically per file)."""
    per_seed = [json.loads((out / "results.json").read_text()) for out in outputs]
    merged = aggregate(per_seed)
    first = outputs[[r["seed"] for r in per_seed].index(merged["checkpoint_seed"])]
    target = checkpoints / name
    target.mkdir(parents=True, exist_ok=True)
    for file in PUBLISHED_FILES:
        shutil.copy2(first / file, target / file)
    tmp = target / "results.json.tmp"
    tmp.write_text(json.dumps(merged, indent=2))
    tmp.replace(target / "results.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default=str(ROOT / "recipes" / "zoo"), help="folder of zoo recipes (YAML)")
    parser.add_argument("--only", nargs="*", help="recipe names (file stems) to run, in this order")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds per recipe (default 0 1 2)")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "zoo"), help="where each seed's run folder goes")
    parser.add_argument(
        "--checkpoints", default=str(ROOT / "checkpoints"), help="where the chosen seed of each recipe is copied"
    )
    parser.add_argument("--jobs", type=int, default=2, help="training runs at once (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (tiny models: 1 is fastest)")
    args = parser.parse_args()
    recipes = sorted(Path(args.recipes).glob("*.yaml"))
    if args.only:
        by_name = {r.stem: r for r in recipes}
        missing = [n for n in args.only if n not in by_name]
        if missing:
            parser.error(f"no recipe named {missing} in {args.recipes}; available: {sorted(by_name)}")
        recipes = [by_name[n] for n in args.only]
    runs, checkpoints = Path(args.runs).resolve(), Path(args.checkpoints).resolve()
    pending = {r.stem: len(args.seeds) for r in recipes}
    finished: dict[str, list] = {r.stem: [] for r in recipes}
    ok = True
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, r, s, runs, args.threads) for r in recipes for s in args.seeds]
        for future in as_completed(futures):  # a recipe is published as soon as all its seeds are done
            name, seed, code, out = future.result()
            finished[name].append((seed, code, out))
            pending[name] -= 1
            if pending[name]:
                continue
            failed = [s for s, c, _ in finished[name] if c != 0]
            if failed:
                ok = False
                print(
                    f"FAILED {name} seeds {failed} (see {runs / name}/seed*.log); checkpoint left as it was", flush=True
                )
                continue
            publish(name, [o for *_, o in finished[name]], checkpoints)
            merged = json.loads((checkpoints / name / "results.json").read_text())
            print(
                f"ok     {name}: top-1 {merged['top1_mean']:.2f} ± {merged['top1_std']:.2f} (seeds {merged['seeds']})",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
