import argparse

import pytest

from snn_zoo.train import Recipe, add_recipe_arguments, load_recipe, recipe_from_args
from snn_zoo.train.plan import RunPlan


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    return recipe_from_args(parser.parse_args(argv))


def test_defaults_are_the_embedded_digits_job():
    recipe = Recipe()
    assert (recipe.dataset, recipe.method, recipe.T) == ("digits", "bkd", 4)
    assert recipe.model is None  # the plan picks it from the data
    plan = RunPlan.from_recipe(recipe)
    assert plan.recipe.run_name == "spiking_cnn_small.bkd_t4_digits"
    assert plan.teacher_arch == "spiking_cnn_base"


def test_flags_override_the_yaml_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: sew_resnet10_digits\nepochs: 7\nlr: 0.1\nloss_weights: {alpha: 0.5}\n")
    recipe = _parse(
        ["--recipe", str(path), "--lr", "0.01", "--loss-weights", "alpha=0.002,blur_prob=0.2", "--detach-reset"]
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


def test_switches_are_switches_as_in_timm():
    """timm's train.py switches (--model-ema) take no value; --no-... turns a default-on setting off."""
    assert _parse(["--model-ema"]).model_ema is True
    assert _parse(["--model-ema", "--no-model-ema"]).model_ema is False
    assert _parse(["--no-aug"]).augment is False
    assert _parse(["--opt", "sgd", "-b", "32", "-j", "2", "--grad-accum-steps", "2"]).optimizer == "sgd"
    with pytest.raises(SystemExit):
        _parse(["--model-ema", "true"])


def test_help_is_a_manual():
    """Every flag says what it means and its default / choices / range, grouped like timm's train.py."""
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    text = parser.format_help()
    for title in ("student model", "data", "augmentation", "distillation", "optimisation", "run ("):
        assert title in text
    assert "(recipe field" not in text
    for action in parser._actions:
        if action.dest in ("help", "recipe") or action.help == argparse.SUPPRESS:
            continue
        assert action.help and len(action.help) > 25, action.option_strings
    assert "choices: none, kd, bkd" in text and ">= 1" in text and "default: 40" in text


@pytest.mark.parametrize("tag", ["../../../x", "a/b", "/abs", "..", "x/../y", ""])
def test_tags_are_names_not_paths(tag):
    with pytest.raises(ValueError, match="must be a name"):
        Recipe(tag=tag)


def test_recipe_output_cannot_leave_the_working_folder(tmp_path):
    path = tmp_path / "r.yaml"
    for out in ("/tmp/elsewhere", "../up", "~/home"):
        path.write_text(f"output: {out}\n")
        with pytest.raises(ValueError, match="relative folder"):
            load_recipe(path)
    path.write_text("output: runs/mine\n")
    assert load_recipe(path).output == "runs/mine"
    assert load_recipe(path, {"output": str(tmp_path / "anywhere")}).output  # the --output flag may


def test_alias_bombs_and_huge_recipes_are_refused_at_once(tmp_path):
    """A billion-laughs recipe (300 bytes of nested aliases) is refused before anything expands it."""
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("model_kwargs:\n" + "\n".join("  " + line for line in lines) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="expands to more than"):
        load_recipe(path)
    assert time.perf_counter() - t0 < 5
    path.write_text("epochs: 1\n" + "#" * 300_000 + "\n")
    with pytest.raises(ValueError, match="at most"):
        load_recipe(path)


def test_recipe_that_is_a_directory_says_so(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_recipe(tmp_path)
