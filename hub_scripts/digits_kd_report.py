#!/usr/bin/env python3
"""A distillation experiment: run every recipe of a folder (default recipes/experiments/digits_kd) for each seed
through ``train_from_recipe`` and write the comparison to a markdown file (default docs/digits_kd.md; the raw
results go beside it as .json).

    python hub_scripts/digits_kd_report.py                                  # the recorded run (3 seeds)
    python hub_scripts/digits_kd_report.py --recipes recipes/experiments/bkd_ablation_dvs \
        --runs runs/bkd_ablation_dvs --out docs/bkd_ablation_dvs.md --title "BKD ablation on event-camera digits"
    python hub_scripts/digits_kd_report.py --seeds 0 --epochs 1 --out /tmp/kd.md --runs /tmp/kd   # smoke test

Per seed, the first arm with a given teacher (model, epochs, dataset) trains it; every later arm of that seed
with the same teacher reuses it (``teacher_checkpoint``), so arms are compared against the same teacher. A run whose
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


def _teacher_key(recipe) -> tuple:
    """Arms of one seed share a trained teacher when this key is equal."""
    return recipe.teacher, recipe.teacher_epochs, recipe.dataset, recipe.T


def _arm_settings(recipe: dict, base: dict) -> str:
    """What an arm changes against the first arm: loss weights, epochs, teacher epochs."""
    changed = [f"{k}={v}" for k, v in sorted(recipe.get("loss_weights", {}).items())]
    for key in ("epochs", "teacher_epochs", "lr"):
        if recipe[key] != base[key]:
            changed.append(f"{key}={recipe[key]}")
    return ", ".join(changed) or "-"


def write_report(arms: dict, command: str, wall: float, title: str, recipes: str, raw: str) -> str:
    """Markdown table: one row per arm, mean ± sample std over the seeds, from results.json."""
    first = next(iter(arms.values()))[0]
    recipe = first["recipe"]
    lines = [
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {wall:.0f} s on {platform.machine()} ({first['torch']}); runs read from disk count 0 s.  ",
        f"Student `{recipe['model']}` (T={recipe['T']}) on `{recipe['dataset']}`, {recipe['epochs']} epochs, batch "
        f"{recipe['batch_size']}, {recipe['optimizer']} lr {recipe['lr']} wd {recipe['weight_decay']}, "
        f"{recipe['sched']}; teacher `{recipe['teacher']}` (ANN twin, {recipe['teacher_epochs']} epochs, one per "
        f"seed, shared by the arms with the same teacher settings). "
        f"Validation: {first['num_val_samples']} images, final epoch, no checkpoint selection.",
        "",
        "| Arm (recipe) | Method | Settings | Top-1 (%) | Top-1 per seed | Teacher top-1 (%) | Firing rate | "
        "SOPs / image | Train (s) |",
        "|---|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for stem, rs in arms.items():
        seeds = ", ".join(f"{r['top1']:.2f} (seed {r['seed']})" for r in rs)
        teacher = [r["teacher_top1"] for r in rs if r.get("teacher_top1") is not None]
        method = rs[0]["method"] + (
            f", T=1 noise sigma {rs[0]['single_step_noise']}" if rs[0].get("single_step_noise") is not None else ""
        )
        lines.append(
            f"| `{stem}` | {method} | {_arm_settings(rs[0]['recipe'], recipe)} | "
            f"{_mean_std([r['top1'] for r in rs])} | {seeds} | "
            f"{_mean_std(teacher) if teacher else '-'} | {_mean_std([r['mean_firing_rate'] for r in rs])} | "
            f"{statistics.fmean(r['sops_per_image'] for r in rs):,.0f} | "
            f"{statistics.fmean(r['train_seconds'] for r in rs):.0f} |"
        )
    lines += [
        "",
        "Mean ± sample standard deviation over seeds. Firing rate and SOPs: averaged over the first 64 validation "
        "images (snn_zoo.metrics.energy_report). Train (s) includes the teacher only for the arm that trained it.",
        *(
            [
                "Hetero-temperature KD and noisy single-step training follow our own definitions "
                "(`snn_zoo/distill/hetero.py`, `snn_zoo/distill/noisy.py`); the published methods give no details."
            ]
            if any(rs[0]["method"] == "hetero" or rs[0].get("single_step_noise") is not None for rs in arms.values())
            else []
        ),
        f"Recipes: `{recipes}/`; raw results: `{raw}` next to this file.",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--recipes",
        type=Path,
        default=ROOT / "recipes" / "experiments" / "digits_kd",
        help="folder of the experiment's recipes, one per arm",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds per arm (default 0 1 2)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "digits_kd", help="where the run folders go")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "digits_kd.md", help="the report (markdown; a .json beside it)"
    )
    parser.add_argument("--title", default="Distillation on scikit-learn digits (CPU)", help="the report's heading")
    parser.add_argument("--arms", nargs="+", default=None, help="run only these recipes (file stems) of --recipes")
    parser.add_argument("--epochs", type=int, default=None, help="override epochs and teacher_epochs (smoke tests)")
    parser.add_argument("--max-steps-per-epoch", type=int, default=None, help="cap steps per epoch (smoke tests)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
    if args.arms:
        unknown = sorted(set(args.arms) - {p.stem for p in paths})
        if unknown:
            parser.error(f"--arms {unknown} are not recipes in {args.recipes}; available: {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in args.arms]
    if not paths:
        parser.error(f"no recipes in {args.recipes}")
    t0 = time.perf_counter()
    arms: dict[str, list] = {p.stem: [] for p in paths}
    for seed in args.seeds:
        teachers: dict[tuple, Path] = {}  # teacher key -> the folder of the arm that trained it
        for path in paths:
            recipe = load_recipe(path, overrides)
            needs_teacher = get_method(recipe.method).needs_teacher
            key = _teacher_key(recipe)
            extra = {"teacher_checkpoint": str(teachers[key])} if needs_teacher and key in teachers else {}
            result = run_arm(path, seed, args.runs, {**overrides, **extra})
            if needs_teacher and key not in teachers:
                teachers[key] = args.runs / path.stem / f"seed{seed}" / "teacher"
            arms[path.stem].append(result)
            print(f"seed {seed} {path.stem}: top-1 {result['top1']:.2f}", flush=True)
    recipes_shown = args.recipes.resolve()
    recipes_shown = recipes_shown.relative_to(ROOT) if recipes_shown.is_relative_to(ROOT) else recipes_shown
    report = write_report(
        arms,
        command.strip(),
        time.perf_counter() - t0,
        args.title,
        str(recipes_shown),
        args.out.with_suffix(".json").name,
    )
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
