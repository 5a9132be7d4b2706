"""Training: recipes and the accelerate-driven distillation run."""

from .loop import NonFiniteLossError, train_from_recipe
from .recipe import METHODS, Recipe, add_recipe_arguments, load_recipe, recipe_from_args

__all__ = [
    "METHODS",
    "NonFiniteLossError",
    "Recipe",
    "add_recipe_arguments",
    "load_recipe",
    "recipe_from_args",
    "train_from_recipe",
]
