"""Every recipe loads; every paper-scale recipe dry-runs 2 steps on synthetic data of its real shape."""

import json
import shutil
from pathlib import Path

import pytest

from snn_zoo.data import dataset_info
from snn_zoo.train import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
PAPER = sorted((RECIPES / "paper").glob("*.yaml"))
ZOO = sorted((RECIPES / "zoo").glob("*.yaml"))


@pytest.mark.parametrize("path", PAPER + ZOO, ids=lambda p: p.stem)
def test_recipe_loads_and_is_named_after_its_checkpoint(path):
    recipe = load_recipe(path)
    assert recipe.run_name == path.stem


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_recipe_dry_run(path, distill_main, tmp_path):
    recipe = load_recipe(path)
    info = dataset_info(recipe.dataset)
    data = {
        "num_classes": info.num_classes,
        "num_samples": 4,
        "input_size": list(info.input_size),
        "event": info.is_event,
    }
    args = [
        "--recipe",
        str(path),
        "--dataset",
        "synthetic",
        "--data-kwargs",
        json.dumps(data),
        "--epochs",
        "1",
        "--teacher-epochs",
        "1",
        "--max-steps-per-epoch",
        "2",
        "--cooldown-epochs",
        "0",  # a dry run: 1 epoch, not 1 + the recipe's cooldown
        "--batch-size",
        "2",
        "--no-teacher-pretrained",
        "--mixed-precision",
        "no",
        "--num-workers",
        "0",
        "--output",
        str(tmp_path / "run"),
        "--log-with",
        "none",
    ]
    try:
        assert distill_main(args) == 0
        assert (tmp_path / "run" / "model.safetensors").is_file()
    finally:
        shutil.rmtree(tmp_path / "run", ignore_errors=True)  # paper-size weights + optimizer state: up to 3 GB a run
