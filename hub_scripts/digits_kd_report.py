#!/usr/bin/env python3
"""A distillation experiment: run every recipe of a folder (default recipes/experiments/digits_kd) for each seed
through ``train_from_recipe`` and write the comparison to a markdown file (default docs/digits_kd.md; the raw
results go beside it as .json).

    python hub_scripts/digits_kd_report.py                                  # the recorded run (3 seeds)
    python hub_scripts/digits_kd_report.py --recipes recipes/experiments/bkd_ablation_dvs \
        --runs runs/bkd_ablation_dvs --out docs/bkd_ablation_dvs.md --title "BKD ablation on event-camera digits"
    python hub_scripts/digits_kd_report.py --seeds 0 --epochs 1 --out /tmp/kd.md --runs /tmp/kd   # smoke test
    python hub_scripts/digits_kd_report.py --recipes recipes/experiments/hetero_sweep --set dataset=digits_dvs \
        --runs runs/hetero_sweep_dvs --out docs/hetero_sweep_dvs.md --plot docs/hetero_sweep_dvs.png
    python hub_scripts/digits_kd_report.py --recipes recipes/experiments/noisy_conversion --eval-T 1 2 4 8 16 \
        --runs runs/noisy_conversion --out docs/noisy_conversion.md

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

import torch
import yaml

from snn_zoo import create_model
from snn_zoo.distill import NoiseAveraged, get_method
from snn_zoo.eval.validate import validate_model, validate_models
from snn_zoo.train import load_recipe, train_from_recipe


def run_arm(path: Path, seed: int, runs: Path, overrides: dict) -> dict:
    """results.json of one arm at one seed (trained unless it already exists)."""
    out = runs / path.stem / f"seed{seed}"
    if (out / "results.json").is_file():
        return json.loads((out / "results.json").read_text())
    recipe = load_recipe(path, {**overrides, "seed": seed, "output": str(out)})
    return train_from_recipe(recipe, command=f"python hub_scripts/digits_kd_report.py  # {path.name}, seed {seed}")


def _mean_std(values: list, digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def epoch_seconds(result: dict) -> float:
    """Seconds the student's training epochs took (no validation, setup or teacher)."""
    return sum(row["epoch_seconds"] for row in result["history"])


def _teacher_key(recipe) -> tuple:
    """Arms of one seed share a trained teacher when this key is equal."""
    return recipe.teacher, recipe.teacher_epochs, recipe.dataset, recipe.T


def _arm_settings(recipe: dict, base: dict) -> str:
    """What an arm changes against the first arm: loss weights, epochs, teacher epochs."""
    changed = [f"{k}={v}" for k, v in sorted(recipe.get("loss_weights", {}).items())]
    for key in ("T", "epochs", "teacher_epochs", "lr"):
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
        f"Student `{recipe['model']}` (T={recipe['T']} unless an arm says otherwise) on `{recipe['dataset']}`, "
        f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, {recipe['optimizer']} lr {recipe['lr']} wd "
        f"{recipe['weight_decay']}, {recipe['sched']}; "
        + (
            f"teacher `{recipe['teacher']}` (ANN twin, {recipe['teacher_epochs']} epochs, one per seed, shared by the "
            f"arms with the same teacher settings). "
            if any(r[0].get("teacher_top1") is not None for r in arms.values())
            else "no teacher. "
        )
        + f"Validation: {first['num_val_samples']} images, final epoch, no checkpoint selection.",
        "",
        "| Arm (recipe) | Method | Settings | Top-1 (%) | Top-1 per seed | Teacher top-1 (%) | Firing rate | "
        "SOPs / image | Train (s) | Epochs (s) |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for stem, rs in arms.items():
        seeds = ", ".join(f"{r['top1']:.2f} (seed {r['seed']})" for r in rs)
        teacher = [r["teacher_top1"] for r in rs if r.get("teacher_top1") is not None]
        method = rs[0]["method"] + (
            f", T=1 noise width {rs[0]['single_step_noise']}" if rs[0].get("single_step_noise") is not None else ""
        )
        lines.append(
            f"| `{stem}` | {method} | {_arm_settings(rs[0]['recipe'], recipe)} | "
            f"{_mean_std([r['top1'] for r in rs])} | {seeds} | "
            f"{_mean_std(teacher) if teacher else '-'} | {_mean_std([r['mean_firing_rate'] for r in rs], 4)} | "
            f"{statistics.fmean(r['sops_per_image'] for r in rs):,.0f} | "
            f"{statistics.fmean(r['train_seconds'] for r in rs):.0f} | {statistics.fmean(map(epoch_seconds, rs)):.1f} |"
        )
    lines += [
        "",
        "Mean ± sample standard deviation over seeds. Firing rate and SOPs: averaged over the first 64 validation "
        "images (snn_zoo.metrics.energy_report). Train (s): the whole run (data, model, teacher for the arm that "
        "trained it, per-epoch validation, final measurement, files); Epochs (s): the student's training epochs "
        "alone (the sum of train_log.csv's epoch_seconds).",
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


def reference_table(arms: dict, reference: str) -> list[str]:
    """Markdown rows: every arm against ``reference`` at the same seed (top-1 difference, SOPs ratio)."""
    ref = {r["seed"]: r for r in arms[reference]}
    lines = [
        f"| Arm | Top-1 minus `{reference}` (points) | SOPs / `{reference}`'s (%) | "
        f"Firing rate / `{reference}`'s (%) |",
        "|---|---:|---:|---:|",
    ]
    for stem, rs in arms.items():
        paired = [(r, ref[r["seed"]]) for r in rs if r["seed"] in ref]
        if stem == reference or not paired:
            continue
        diff = [r["top1"] - q["top1"] for r, q in paired]
        sops = [100 * r["sops_per_image"] / q["sops_per_image"] for r, q in paired]
        rate = [100 * r["mean_firing_rate"] / q["mean_firing_rate"] for r, q in paired]
        lines.append(f"| `{stem}` | {_mean_std(diff)} | {_mean_std(sops, 1)} | {_mean_std(rate, 1)} |")
    return lines


#: Noise draws averaged to estimate the noisy T=1 network's expected logits (NoiseAveraged).
NOISE_DRAWS = 64


def measure_at_steps(runs: Path, stem: str, seeds: list[int], steps: list[int]) -> dict:
    """A noisy single-step arm's trained weights run at each T in ``steps`` (one validate row per seed), and the
    noisy T=1 network they were trained as, its logits averaged over ``NOISE_DRAWS`` noise draws (key 'noisy_t1')."""
    out: dict = {}
    for T in steps:
        rows = [validate_models(None, checkpoint=runs / stem / f"seed{seed}", T=T, progress=False)[0] for seed in seeds]
        out[T] = [{k: r[k] for k in ("top1", "loss", "mean_firing_rate", "sops_per_image")} for r in rows]
    out["noisy_t1"] = []
    for seed in seeds:
        run = runs / stem / f"seed{seed}"
        scale = json.loads((run / "results.json").read_text())["single_step_noise"]
        model = create_model(f"local-dir:{run}", pretrained=True)
        averaged = NoiseAveraged(model, NOISE_DRAWS, scale, torch.Generator().manual_seed(seed))
        # The run's own validation data (its split seed and transform), as the rows at each T use.
        row = validate_model(averaged, data_from=run, energy=False, progress=False)
        out["noisy_t1"].append({"top1": row["top1"], "loss": row["loss"]})
    return out


def conversion_table(arms: dict, converted: dict[str, dict[int, list[dict]]]) -> list[str]:
    """Markdown rows: per T, direct training at that T (the arm with it, no noise) beside each converted arm."""
    direct = {rs[0]["T"]: (stem, rs) for stem, rs in arms.items() if rs[0].get("single_step_noise") is None}
    head = "| T | Direct arm | Direct top-1 (%) | Direct SOPs / image |"
    rule = "|---:|---|---:|---:|"
    for stem in converted:
        head += f" `{stem}` top-1 (%) | `{stem}` firing rate | `{stem}` SOPs / image |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    first = next(iter(converted.values()))
    expected = [f" {_mean_std([r['top1'] for r in c['noisy_t1']])} | - | - |" for c in converted.values()]
    lines.append(f"| 1, noise on (mean of {NOISE_DRAWS} draws) | - | - | - |" + "".join(expected))
    for T in sorted(k for k in first if k != "noisy_t1"):
        stem, rs = direct.get(T, ("-", []))
        cells = [f"| {T} | `{stem}` |" if rs else f"| {T} | - |"]
        cells.append(
            f" {_mean_std([r['top1'] for r in rs])} | {statistics.fmean(r['sops_per_image'] for r in rs):,.0f} |"
            if rs
            else " - | - |"
        )
        for rows in (c[T] for c in converted.values()):
            cells.append(
                f" {_mean_std([r['top1'] for r in rows])} | {_mean_std([r['mean_firing_rate'] for r in rows], 4)} | "
                f"{statistics.fmean(r['sops_per_image'] for r in rows):,.0f} |"
            )
        lines.append("".join(cells))
    return lines


def plot_tradeoff(arms: dict, path: Path, title: str, reference: str | None = None) -> None:
    """Top-1 against SOPs per image, one point per arm (mean over seeds, bars: sample std); with ``reference``,
    dashed lines at its top-1 and at half its SOPs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for stem, rs in arms.items():
        sops = [r["sops_per_image"] for r in rs]
        top1 = [r["top1"] for r in rs]
        err = (statistics.stdev(sops), statistics.stdev(top1)) if len(rs) > 1 else (0, 0)
        method = rs[0]["method"]
        marker = {"none": "s", "kd": "D"}.get(method, "o")
        ax.errorbar(statistics.fmean(sops), statistics.fmean(top1), xerr=err[0], yerr=err[1], fmt=marker, capsize=2)
        ax.annotate(
            stem,
            (statistics.fmean(sops), statistics.fmean(top1)),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    if reference:
        ref = arms[reference]
        ax.axhline(statistics.fmean(r["top1"] for r in ref), color="grey", ls="--", lw=0.8, label=f"{reference} top-1")
        half = 0.5 * statistics.fmean(r["sops_per_image"] for r in ref)
        ax.axvline(half, color="grey", ls=":", lw=0.8, label=f"half of {reference}'s SOPs")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("synaptic operations per image (SOPs, first 64 validation images)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_set(items: list[str]) -> dict:
    """``KEY=VALUE`` recipe overrides (values read as YAML: 4 -> int, digits_dvs -> str)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


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
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override recipe fields in every arm, e.g. dataset=digits_dvs img_size=4 (the run folders should differ)",
    )
    parser.add_argument(
        "--eval-T",
        type=int,
        nargs="+",
        default=None,
        help="also run each single_step_noise arm's weights at these T and tabulate them against direct training",
    )
    parser.add_argument(
        "--reference", default=None, help="an arm (file stem) every other arm is compared with, seed by seed"
    )
    parser.add_argument("--plot", type=Path, default=None, help="write top-1 against SOPs per image here (PNG)")
    return parser


def run_arms(paths: list[Path], seeds: list[int], runs: Path, overrides: dict) -> dict[str, list]:
    """Every arm at every seed; per seed, arms with the same teacher settings share the first one's teacher."""
    arms: dict[str, list] = {p.stem: [] for p in paths}
    for seed in seeds:
        teachers: dict[tuple, Path] = {}  # teacher key -> the folder of the arm that trained it
        for path in paths:
            recipe = load_recipe(path, overrides)
            needs_teacher = get_method(recipe.method).needs_teacher
            key = _teacher_key(recipe)
            extra = {"teacher_checkpoint": str(teachers[key])} if needs_teacher and key in teachers else {}
            result = run_arm(path, seed, runs, {**overrides, **extra})
            if needs_teacher and key not in teachers:
                teachers[key] = runs / path.stem / f"seed{seed}" / "teacher"
            arms[path.stem].append(result)
            print(f"seed {seed} {path.stem}: top-1 {result['top1']:.2f}", flush=True)
    return arms


_KEEP = (
    "name",
    "method",
    "seed",
    "T",
    "top1",
    "top5",
    "teacher_top1",
    "mean_firing_rate",
    "sops_per_image",
    "train_seconds",
    "single_step_noise",
    "recipe",
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = "python hub_scripts/digits_kd_report.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    try:
        overrides = parse_set(args.set)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
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
    if args.reference and args.reference not in {p.stem for p in paths}:
        parser.error(f"--reference {args.reference!r} is not one of the arms run: {[p.stem for p in paths]}")
    t0 = time.perf_counter()
    arms = run_arms(paths, args.seeds, args.runs, overrides)
    converted = {}
    if args.eval_T:
        noisy = [stem for stem, rs in arms.items() if rs[0].get("single_step_noise") is not None]
        converted = {stem: measure_at_steps(args.runs, stem, args.seeds, args.eval_T) for stem in noisy}
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
    if args.reference:
        rows = reference_table(arms, args.reference)
        report += "\n".join(["", f"## Against `{args.reference}` (paired by seed)", "", *rows, ""])
    if converted:
        report += "\n".join(["", "## The same weights at other T", "", *conversion_table(arms, converted), ""])
    if args.plot:
        plot_tradeoff(arms, args.plot, args.title, args.reference)
        report += f"\n![top-1 against SOPs per image]({args.plot.name})\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    raw = {k: [{**{f: r.get(f) for f in _KEEP}, "epoch_seconds": epoch_seconds(r)} for r in v] for k, v in arms.items()}
    args.out.with_suffix(".json").write_text(
        json.dumps({"command": command.strip(), "results": raw, "at_other_T": converted}, indent=2)
    )
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
