#!/usr/bin/env python3
"""Generate the model cards and README tables from the measured results of the published checkpoints.

    python hub_scripts/make_model_cards.py            # model_cards/*.md, checkpoints/*/README.md, README tables

Reads checkpoints/<name>/results.json (written by hub_scripts/distill.py) and recipes/paper/*.yaml;
nothing here is typed by hand. Every ported tag gets its card from the registry (provenance, reported
top-1, settings, theoretical ANN-twin MACs): status "ported, not yet re-validated". A card that
hub_scripts/release.py wrote from the authors' file is kept (pass --rewrite-ported to replace it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from snn_zoo.hub.card import card_status, is_release_card, render_model_card, render_ported_card, run_model_args
from snn_zoo.hub.markdown import replace_marked_block
from snn_zoo.hub.port import ported_results
from snn_zoo.io import atomic_write_text
from snn_zoo.models._builder import HUB_ORG
from snn_zoo.nir.write import nir_card_line
from snn_zoo.train import load_recipe


def _top1(r: dict) -> str:
    """'mean ± std' over the seeds of a multi-seed result (build_zoo.py --seeds), else the single top-1."""
    if r.get("seed_results"):
        return f"{r['top1_mean']:.2f} ± {r['top1_std']:.2f}"
    return f"{r['top1']:.2f}"


def _seeds(r: dict) -> str:
    if r.get("seed_results"):
        return ", ".join(f"{s['top1']:.2f}" for s in r["seed_results"]) + f" (seeds {', '.join(map(str, r['seeds']))})"
    return f"{r['top1']:.2f} (seed {r.get('seed', 'n/a')})"


def zoo_table(results: list[dict]) -> str:
    """One row per published checkpoint, from its results.json (mean ± sample std over its seeds)."""
    lines = [
        "| Checkpoint | Data | Method | T | Top-1 (%) mean ± std | Top-1 per seed | Teacher top-1 (%) | Params | "
        "Firing rate | SOPs / image | Energy / image (µJ) | ANN-twin energy (µJ) | Train (s) | NIR |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        teacher = "-"
        if r.get("teacher_top1_mean") is not None:
            teacher = f"{r['teacher_top1_mean']:.2f} ± {r['teacher_top1_std']:.2f} ({r['teacher']})"
        elif r.get("teacher_top1") is not None:
            teacher = f"{r['teacher_top1']:.2f} ({r['teacher']})"
        lines.append(
            f"| [`{r['name']}`](model_cards/{r['name']}.md) | {r['dataset']} | {_method_label(r)} | {r['T']} | "
            f"{_top1(r)} | {_seeds(r)} | {teacher} | {r['param_count']:,} | {r['mean_firing_rate']:.4f} | "
            f"{r['sops_per_image']:,.0f} | {r['energy_mj_per_image'] * 1e3:.3f} | "
            f"{r['ann_energy_mj_per_image'] * 1e3:.3f} | {r.get('train_seconds_mean', r['train_seconds']):.0f} | "
            f"{nir_card_line(r['model'], run_model_args(r)).split(':')[0]} |"  # exports to NIR: yes / no
        )
    return "\n".join(lines) + "\n"


def _method_label(r: dict) -> str:
    """The method, and the single-step noise training when the run used it."""
    return r["method"] + (", noisy T=1" if r.get("single_step_noise") is not None else "")


def _sops(r: dict) -> float:
    """SOPs per image, the mean over the seeds when build_zoo.py recorded several."""
    rows = r.get("seed_results") or [r]
    return sum(x["sops_per_image"] for x in rows) / len(rows)


def kd_vs_baseline_table(results: list[dict]) -> str:
    """Every distilled (or noise-trained) checkpoint beside the plain baseline of the same model, data, T and epochs:
    top-1 and SOPs per image (means over the seeds)."""
    baselines = {
        (r["model"], r["dataset"], r["T"], r["epochs"]): r
        for r in results
        if r["method"] == "none" and r.get("single_step_noise") is None
    }
    lines = [
        "| Model | Data | Method | Epochs | No-KD top-1 (%) | Top-1 (%) | Difference (points) | "
        "No-KD SOPs / image | SOPs / image | SOPs vs no-KD (%) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        base = baselines.get((r["model"], r["dataset"], r["T"], r["epochs"]))
        if base is None or base is r:
            continue
        diff = r.get("top1_mean", r["top1"]) - base.get("top1_mean", base["top1"])
        lines.append(
            f"| `{r['model']}` | {r['dataset']} | {_method_label(r)} | {r['epochs']} | {_top1(base)} | "
            f"{_top1(r)} | {diff:+.2f} | {_sops(base):,.0f} | {_sops(r):,.0f} | {100 * _sops(r) / _sops(base):.1f} |"
        )
    return "\n".join(lines) + "\n"


def recipes_table(recipe_dir: Path, checkpoints: Path) -> str:
    """Paper-scale recipes and whether a checkpoint exists for them yet."""
    lines = ["| Recipe | Model | Data | Method | Teacher | Epochs | Status |", "|---|---|---|---|---|---:|---|"]
    for path in sorted(recipe_dir.glob("*.yaml")):
        r = load_recipe(path)
        published = (checkpoints / r.run_name / "model.safetensors").is_file()
        status = "published" if published else "recipe, checkpoint not yet published"
        lines.append(
            f"| [`{path.stem}`](recipes/paper/{path.name}) | `{r.model}` | {r.dataset} | {r.method} | "
            f"`{r.teacher}` | {r.epochs} | {status} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints", help="run folders of the zoo")
    parser.add_argument("--cards", type=Path, default=ROOT / "model_cards", help="where the cards are written")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="README whose tables are updated")
    parser.add_argument("--rewrite-ported", action="store_true", help="also replace cards written by release.py")
    args = parser.parse_args()

    results = [json.loads(p.read_text()) for p in sorted(args.checkpoints.glob("*/results.json"))]
    args.cards.mkdir(parents=True, exist_ok=True)
    for r in results:
        repo_id = f"{HUB_ORG}/{r['name']}"
        atomic_write_text(args.checkpoints / r["name"] / "README.md", render_model_card(r, repo_id))
        prefix = f"../{args.checkpoints.name}/{r['name']}/"
        atomic_write_text(args.cards / f"{r['name']}.md", render_model_card(r, repo_id, asset_prefix=prefix))
        print(f"card: {r['name']}")
    from snn_zoo.models import ported_weights

    for tag in sorted(ported_weights()):
        path = args.cards / f"{tag}.md"
        text = path.read_text() if path.is_file() else ""
        if text and is_release_card(text) and not args.rewrite_ported:  # written by release.py from the file
            print(f"card: {tag} kept ({card_status(text)})")
            continue
        atomic_write_text(path, render_ported_card(ported_results(tag)))
        print(f"card: {tag}")
    text = args.readme.read_text()
    text = replace_marked_block(text, "zoo-table", zoo_table(results) + "\n" + kd_vs_baseline_table(results))
    text = replace_marked_block(text, "recipes-table", recipes_table(ROOT / "recipes" / "paper", args.checkpoints))
    atomic_write_text(args.readme, text)
    print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
