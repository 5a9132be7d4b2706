"""recipes/experiments: every arm loads; the digits KD report runs them through train_from_recipe (toy size)."""

import importlib.util
import json
from pathlib import Path

import pytest

from snn_zoo.train import load_recipe

ROOT = Path(__file__).resolve().parents[2]
DIGITS_KD = sorted((ROOT / "recipes" / "experiments" / "digits_kd").glob("*.yaml"))


def _report_script():
    """hub_scripts/digits_kd_report.py, imported (the script is not a package)."""
    spec = importlib.util.spec_from_file_location("digits_kd_report", ROOT / "hub_scripts" / "digits_kd_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", DIGITS_KD, ids=lambda p: p.stem)
def test_experiment_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.model == "spiking_cnn_small" and recipe.dataset == "digits" and recipe.epochs == 15


def test_digits_kd_report_runs_the_recipes_and_shares_the_teacher(tmp_path):
    module, recipes = _report_script(), tmp_path / "recipes"
    recipes.mkdir()
    for path in DIGITS_KD:  # four arms keep it short: baseline, two KD arms, the noisy arm
        if path.stem.split("_", 1)[1] in ("none", "kd", "bkd", "noisy"):
            text = path.read_text().replace("model: spiking_cnn_small", "model: spiking_cnn_tiny")
            (recipes / path.name).write_text(text.replace("teacher: spiking_cnn_base", "teacher: spiking_cnn_tiny"))
    out = tmp_path / "kd.md"
    assert (
        module.main(
            [
                "--recipes",
                str(recipes),
                "--seeds",
                "0",
                "--epochs",
                "1",
                "--max-steps-per-epoch",
                "2",
                "--runs",
                str(tmp_path / "runs"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = out.read_text()
    assert "`01_kd`" in report and "`06_noisy`" in report and "T=1 noise sigma 0.3" in report
    raw = json.loads(out.with_suffix(".json").read_text())["results"]
    assert raw["01_kd"][0]["recipe"]["teacher_checkpoint"] is None  # the first KD arm trains the teacher
    assert raw["02_bkd"][0]["recipe"]["teacher_checkpoint"] == str(tmp_path / "runs" / "01_kd" / "seed0" / "teacher")
    assert not (tmp_path / "runs" / "00_none" / "seed0" / "teacher").exists()


ABLATION = sorted((ROOT / "recipes" / "experiments" / "bkd_ablation_dvs").glob("*.yaml"))


@pytest.mark.parametrize("path", ABLATION, ids=lambda p: p.stem)
def test_ablation_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.model == "spiking_cnn_small" and recipe.dataset == "digits_dvs" and recipe.T == 4


def test_report_trains_one_teacher_per_teacher_setting(tmp_path):
    module, recipes = _report_script(), tmp_path / "recipes"
    recipes.mkdir()
    base = "model: spiking_cnn_tiny\nteacher: spiking_cnn_tiny\ndataset: digits\nT: 2\nepochs: 1\nlog_with: none\n"
    (recipes / "00_bkd.yaml").write_text(base + "method: bkd\ntag: a\nteacher_epochs: 1\n")
    (recipes / "01_bkd_alpha.yaml").write_text(
        base + "method: bkd\ntag: b\nteacher_epochs: 1\nloss_weights: {alpha: 0.01}\n"
    )
    (recipes / "02_bkd_weak.yaml").write_text(base + "method: bkd\ntag: c\nteacher_epochs: 2\n")
    out = tmp_path / "abl.md"
    args = ["--recipes", str(recipes), "--seeds", "0", "--max-steps-per-epoch", "1", "--runs", str(tmp_path / "runs")]
    assert module.main([*args, "--out", str(out), "--title", "Toy ablation"]) == 0
    raw = json.loads(out.with_suffix(".json").read_text())["results"]
    assert raw["01_bkd_alpha"][0]["recipe"]["teacher_checkpoint"] == str(
        tmp_path / "runs" / "00_bkd" / "seed0" / "teacher"
    )
    assert raw["02_bkd_weak"][0]["recipe"]["teacher_checkpoint"] is None  # another teacher setting: its own teacher
    report = out.read_text()
    assert report.startswith("# Toy ablation") and "alpha=0.01" in report and "teacher_epochs=2" in report
    subset = tmp_path / "subset.md"
    assert (
        module.main([*args, "--out", str(subset), "--arms", "00_bkd", "02_bkd_weak"]) == 0
    )  # read back, not retrained
    assert set(json.loads(subset.with_suffix(".json").read_text())["results"]) == {"00_bkd", "02_bkd_weak"}
    with pytest.raises(SystemExit):
        module.main([*args, "--out", str(subset), "--arms", "99_missing"])
