import argparse

import pytest

from snn_zoo.train import Recipe, add_recipe_arguments, load_recipe, recipe_from_args


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    return recipe_from_args(parser.parse_args(argv))


def test_defaults_are_the_embedded_digits_job():
    recipe = Recipe()
    assert (recipe.dataset, recipe.method, recipe.T) == ("digits", "bkd", 4)
    assert recipe.run_name == "spiking_cnn_small.bkd_t4_digits"


def test_flags_override_the_yaml_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: sew_resnet10_digits\nepochs: 7\nlr: 0.1\nloss_weights: {alpha: 0.5}\n")
    recipe = _parse(
        ["--recipe", str(path), "--lr", "0.01", "--loss-weights", "alpha=0.002,blur_prob=0.2", "--detach-reset", "true"]
    )
    assert recipe.model == "sew_resnet10_digits" and recipe.epochs == 7
    assert recipe.lr == 0.01 and recipe.detach_reset is True
    assert recipe.loss_weights == {"alpha": 0.002, "blur_prob": 0.2}


def test_bad_recipes_fail_clearly(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("modle: x\n")
    with pytest.raises(ValueError, match="unknown keys \\['modle'\\]"):
        load_recipe(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="Unknown distillation method"):
        Recipe(method="bkdd")
