"""recipes/experiments: every arm loads; the digits KD report runs them through train_from_recipe (toy size)."""

import importlib.util
import json
from pathlib import Path

import pytest

from snn_zoo.train import load_recipe

ROOT = Path(__file__).resolve().parents[2]
DIGITS_KD = sorted((ROOT / "recipes" / "experiments" / "digits_kd").glob("*.yaml"))
HETERO_SWEEP = sorted((ROOT / "recipes" / "experiments" / "hetero_sweep").glob("*.yaml"))
NOISY = sorted((ROOT / "recipes" / "experiments" / "noisy_conversion").glob("*.yaml"))


def _report_script():
    """hub_scripts/digits_kd_report.py, imported (the script is not a package)."""
    spec = importlib.util.spec_from_file_location("digits_kd_report", ROOT / "hub_scripts" / "digits_kd_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", DIGITS_KD + HETERO_SWEEP + NOISY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_experiment_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.model == "spiking_cnn_small" and recipe.dataset == "digits"
    assert recipe.epochs == (30 if path.stem.endswith("_e30") else 15)
    if path in NOISY:  # one neuron for every arm: the conversion rule's
        assert recipe.neuron == "if" and recipe.model_kwargs == {"v_reset": "soft", "v_init": 0.5}


def test_digits_kd_report_runs_the_recipes_and_shares_the_teacher(tmp_path):
    module, recipes = _report_script(), tmp_path / "recipes"
    recipes.mkdir()
    for path in DIGITS_KD:  # three arms keep it short: baseline, two KD arms
        if path.stem.split("_", 1)[1] in ("none", "kd", "bkd"):
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
    assert "`01_kd`" in report and "`02_bkd`" in report and "no teacher" not in report
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


def test_noisy_report_runs_the_weights_at_other_T_and_plots(tmp_path):
    module, recipes = _report_script(), tmp_path / "recipes"
    recipes.mkdir()
    for path in NOISY:
        if path.stem in ("02_direct_t4", "10_noisy", "12_noisy0"):
            (recipes / path.name).write_text(path.read_text().replace("spiking_cnn_small", "spiking_cnn_tiny"))
    out, plot = tmp_path / "noisy.md", tmp_path / "plot.png"
    args = ["--recipes", str(recipes), "--seeds", "1", "--epochs", "1", "--max-steps-per-epoch", "2"]
    args += ["--runs", str(tmp_path / "runs"), "--out", str(out), "--eval-T", "1", "4", "--plot", str(plot)]
    assert module.main([*args, "--set", "img_size=6", "--reference", "02_direct_t4"]) == 0
    report, raw = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert "no teacher" in report and "T=1 noise width 1.0" in report and "## The same weights at other T" in report
    assert set(raw["at_other_T"]["10_noisy"]) == {"1", "4", "noisy_t1"} and plot.stat().st_size > 0
    assert "| 1, noise on (mean of 64 draws) |" in report and "## Against `02_direct_t4` (paired by seed)" in report
    assert "| `10_noisy` | " in report.split("## Against")[1]
    row4 = next(line for line in report.splitlines() if line.startswith("| 4 | `02_direct_t4` |"))
    assert f"{raw['results']['10_noisy'][0]['top1']:.2f}" in row4  # the run's own T=4 figure, measured again
    assert raw["results"]["10_noisy"][0]["recipe"]["img_size"] == 6  # --set reached every arm
    # Without noise the averaged T=1 network is the T=1 network: both measured on the run's own split (seed 1).
    no_noise = raw["at_other_T"]["12_noisy0"]
    assert no_noise["noisy_t1"][0]["loss"] == pytest.approx(no_noise["1"][0]["loss"], rel=1e-6)
    for bad in (["--set", "img_size"], ["--reference", "99_missing"]):
        with pytest.raises(SystemExit):
            module.main([*args, *bad])
