#!/usr/bin/env python3
"""The digits distillation experiment: run every recipe of recipes/experiments/digits_kd for each seed through
``train_from_recipe`` and write the comparison to docs/digits_kd.md (+ the raw results to docs/digits_kd.json).

    python hub_scripts/digits_kd_report.py                                  # the recorded run (3 seeds)
    python hub_scripts/digits_kd_report.py --seeds 0 --epochs 1 --out /tmp/kd.md --runs /tmp/kd   # smoke test

Per seed, the first arm with a teacher trains it; every later arm of that seed reuses it
(``teacher_checkpoint``), so all arms of a seed are compared against the same teacher. A run whose
results.json exists is read, not retrained (delete its folder to rerun it). Every number in the report comes
from the runs' results.json files; the command is written beside the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from snn_zoo.distill import get_method
from snn_zoo.train import load_recipe, train_from_recipe


def run_arm(path: Path, seed: int, runs: Path, overrides: dict) -> dict:
    """results.json of one arm at one seed (trained unless it already exists)."""
    out = runs / path.stem / f"seed{seed}"
    if (out / "results.json").is_file():
        return json.loads((out / "results.json").read_text())
    recipe = load_recipe(path, {**overrides, "seed": seed, "output": str(out)})
    return train_from_recipe(recipe, command=f"python hub_scripts/digits_kd_report.py  # {path.name}, seed {seed}")


def _mean_std(values: list) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def write_report(arms: dict, command: str, wall: float) -> str:
    """Markdown table: one row per arm, mean ± sample std over the seeds, from results.json."""
    first = next(iter(arms.values()))[0]
    recipe = first["recipe"]
    lines = [
        "# Distillation on scikit-learn digits (CPU)",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {wall:.0f} s on {platform.machine()} ({first['torch']}); runs read from disk count 0 s.  ",
        f"Student `{recipe['model']}` (T={recipe['T']}), {recipe['epochs']} epochs, batch {recipe['batch_size']}, "
        f"{recipe['optimizer']} lr {recipe['lr']} wd {recipe['weight_decay']}, {recipe['sched']}; teacher "
        f"`{recipe['teacher']}` (ANN twin, {recipe['teacher_epochs']} epochs, one per seed, shared by every arm). "
        f"Validation: {first['num_val_samples']} images, final epoch, no checkpoint selection.",
        "",
        "| Arm (recipe) | Method | Top-1 (%) | Top-1 per seed | Teacher top-1 (%) | Firing rate | SOPs / image | "
        "Train (s) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for stem, rs in arms.items():
        seeds = ", ".join(f"{r['top1']:.2f} (seed {r['seed']})" for r in rs)
        teacher = [r["teacher_top1"] for r in rs if r.get("teacher_top1") is not None]
        method = rs[0]["method"] + (
            f", T=1 noise sigma {rs[0]['single_step_noise']}" if rs[0].get("single_step_noise") is not None else ""
        )
        lines.append(
            f"| `{stem}` | {method} | {_mean_std([r['top1'] for r in rs])} | {seeds} | "
            f"{_mean_std(teacher) if teacher else '-'} | {_mean_std([r['mean_firing_rate'] for r in rs])} | "
            f"{statistics.fmean(r['sops_per_image'] for r in rs):,.0f} | "
            f"{statistics.fmean(r['train_seconds'] for r in rs):.0f} |"
        )
    lines += [
        "",
        "Mean ± sample standard deviation over seeds. Firing rate and SOPs: averaged over the first 64 validation "
        "images (snn_zoo.metrics.energy_report). Train (s) includes the teacher only for the arm that trained it.",
        "Hetero-temperature KD and noisy single-step training follow our own definitions "
        "(`snn_zoo/distill/hetero.py`, `snn_zoo/distill/noisy.py`); the published methods give no details.",
        "Recipes: `recipes/experiments/digits_kd/`; raw results: `digits_kd.json` next to this file.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", type=Path, default=ROOT / "recipes" / "experiments" / "digits_kd")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "digits_kd")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "digits_kd.md")
    parser.add_argument("--epochs", type=int, default=None, help="override epochs and teacher_epochs (smoke tests)")
    parser.add_argument("--max-steps-per-epoch", type=int, default=None)
    args = parser.parse_args(argv)
    command = "python hub_scripts/digits_kd_report.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    overrides = {}
    if args.epochs:
        overrides.update(epochs=args.epochs, teacher_epochs=args.epochs)
    if args.max_steps_per_epoch:
        overrides["max_steps_per_epoch"] = args.max_steps_per_epoch
    paths = sorted(args.recipes.glob("*.yaml"))
    if not paths:
        parser.error(f"no recipes in {args.recipes}")
    t0 = time.perf_counter()
    arms: dict[str, list] = {p.stem: [] for p in paths}
    for seed in args.seeds:
        teacher_dir = None
        for path in paths:
            needs_teacher = get_method(load_recipe(path).method).needs_teacher
            extra = {"teacher_checkpoint": str(teacher_dir)} if needs_teacher and teacher_dir else {}
            result = run_arm(path, seed, args.runs, {**overrides, **extra})
            if needs_teacher and teacher_dir is None:
                teacher_dir = args.runs / path.stem / f"seed{seed}" / "teacher"
            arms[path.stem].append(result)
            print(f"seed {seed} {path.stem}: top-1 {result['top1']:.2f}", flush=True)
    report = write_report(arms, command.strip(), time.perf_counter() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    keep = (
        "name",
        "method",
        "seed",
        "top1",
        "top5",
        "teacher_top1",
        "mean_firing_rate",
        "sops_per_image",
        "train_seconds",
        "single_step_noise",
        "recipe",
    )
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": command.strip(),
                "results": {k: [{f: r.get(f) for f in keep} for r in v] for k, v in arms.items()},
            },
            indent=2,
        )
    )
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
