"""hub_scripts/build_zoo.py: per-seed results -> one published checkpoint with mean ± std; cards show them."""

import importlib.util
import json
from pathlib import Path

from snn_zoo.hub import render_model_card

ROOT = Path(__file__).resolve().parents[2]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "hub_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(seed, top1, method="bkd"):
    return {
        "name": f"m.{method}",
        "model": "m",
        "dataset": "digits",
        "method": method,
        "T": 4,
        "epochs": 40,
        "seed": seed,
        "top1": top1,
        "top5": 100.0,
        "teacher": "t",
        "teacher_top1": 99.0 + seed / 10,
        "mean_firing_rate": 0.1,
        "sops_per_image": 1000.0,
        "train_seconds": 10.0 + seed,
        "param_count": 10,
        "energy_mj_per_image": 1e-4,
        "ann_energy_mj_per_image": 1e-3,
    }


def test_publish_aggregates_the_seeds_and_keeps_the_first_seeds_weights(tmp_path):
    build = _script("build_zoo")
    outs = []
    for seed, top1 in ((2, 98.0), (0, 99.0), (1, 97.0)):
        out = tmp_path / "runs" / f"seed{seed}"
        out.mkdir(parents=True)
        (out / "results.json").write_text(json.dumps(_result(seed, top1)))
        for f in build.PUBLISHED_FILES:
            (out / f).write_text(f"{f} of seed {seed}")
        outs.append(out)
    build.publish("m.bkd", outs, tmp_path / "ckpt")
    merged = json.loads((tmp_path / "ckpt" / "m.bkd" / "results.json").read_text())
    assert merged["seeds"] == [0, 1, 2] and merged["top1_mean"] == 98.0 and merged["top1_std"] == 1.0
    assert merged["checkpoint_seed"] == 0 and merged["top1"] == 99.0
    assert (tmp_path / "ckpt" / "m.bkd" / "model.safetensors").read_text() == "model.safetensors of seed 0"
    assert [r["top1"] for r in merged["seed_results"]] == [99.0, 97.0, 98.0]

    cards = _script("make_model_cards")
    base = {**_result(0, 96.0, "none"), "teacher": None, "teacher_top1": None}
    table = cards.kd_vs_baseline_table([merged, base])
    assert "| 96.00 | 98.00 ± 1.00 | +2.00 |" in table
    assert "98.00 ± 1.00" in cards.zoo_table([merged]) and "(seeds 0, 1, 2)" in cards.zoo_table([merged])
    card = render_model_card(merged)
    assert "**Top-1 98.00 ± 1.00 % · " in card and "over 3 seeds" in card and "seed 1: 97.00 %" in card
