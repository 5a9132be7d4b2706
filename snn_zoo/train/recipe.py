"""Training recipes: one dataclass, loaded from YAML, every field overridable from the CLI."""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

import yaml

METHODS = ("none", "kd", "bkd", "mixed", "sakd", "hetero", "noisy")


@dataclass
class Recipe:
    """Everything that defines a published checkpoint. Defaults = the embedded digits job."""

    # student
    model: str = "spiking_cnn_small"
    model_kwargs: dict = field(default_factory=dict)
    T: int = 4
    neuron: str = "lif"
    surrogate: str = "sigmoid"
    tau: float = 2.0
    detach_reset: bool = False
    # data
    dataset: str = "digits"
    data_dir: Optional[str] = None
    img_size: Optional[int] = None
    augment: bool = True
    data_kwargs: dict = field(default_factory=dict)  # e.g. synthetic: num_classes, input_size, num_samples
    # distillation
    method: str = "bkd"
    teacher: str = "spiking_cnn_base"  # zoo arch (run as its ANN twin), 'twin', or any timm model name
    teacher_pretrained: bool = False  # timm teachers: load hub weights
    teacher_checkpoint: Optional[str] = None  # run folder / local-dir / .safetensors
    teacher_kwargs: dict = field(default_factory=dict)  # e.g. a ViT teacher at the student's img_size
    teacher_epochs: int = 30
    loss_weights: dict = field(default_factory=dict)  # e.g. alpha, blur_prob, beta, tau, feature, logit
    # optimisation
    optimizer: str = "adamw"
    lr: float = 5e-3
    weight_decay: float = 1e-2
    momentum: float = 0.9
    sched: str = "cosine"
    warmup_epochs: int = 0
    epochs: int = 40
    batch_size: int = 64  # global batch, split over processes
    grad_accum: int = 1
    mixed_precision: str = "no"
    seed: int = 0
    num_workers: int = 0
    max_steps_per_epoch: Optional[int] = None  # dry runs
    # output
    output: Optional[str] = None
    tag: Optional[str] = None  # pretrained tag; default '<method>_t<T>_<dataset>'
    log_with: Optional[str] = "tensorboard"

    def __post_init__(self) -> None:
        if self.log_with in ("none", ""):
            self.log_with = None
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; choose one of {list(METHODS)}.")
        if self.T < 1:
            raise ValueError(f"T must be >= 1, got {self.T}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}.")

    @property
    def run_tag(self) -> str:
        return self.tag or f"{self.method}_t{self.T}_{self.dataset}"

    @property
    def run_name(self) -> str:
        return f"{self.model}.{self.run_tag}"

    @property
    def output_dir(self) -> Path:
        return Path(self.output or Path("runs") / self.run_name)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_dict(text: str) -> dict:
    """'{"alpha": 0.002}' (JSON) or 'alpha=0.002,beta=1' (values parsed as YAML scalars)."""
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    out = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected key=value pairs, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per Recipe field; unset flags leave the recipe's value alone."""
    parser.add_argument("--recipe", type=str, default=None, help="YAML recipe; flags override it")
    for f in fields(Recipe):
        flag = "--" + f.name.replace("_", "-")
        annotation = str(f.type)
        if "bool" in annotation:
            kind = _parse_bool
        elif "dict" in annotation:
            kind = _parse_dict
        elif "int" in annotation:
            kind = int
        elif "float" in annotation:
            kind = float
        else:
            kind = str
        parser.add_argument(flag, dest=f.name, type=kind, default=None, help=f"(recipe field {f.name})")


def load_recipe(path: Optional[Union[str, Path]] = None, overrides: Optional[dict] = None) -> Recipe:
    """Recipe from a YAML file (or the defaults) with ``overrides`` applied on top."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Recipe {str(path)!r} does not exist; see recipes/ for the published ones.")
        values = yaml.safe_load(path.read_text()) or {}
        known = {f.name for f in fields(Recipe)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Recipe {str(path)!r} has unknown keys {unknown}; valid keys: {sorted(known)}.")
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Recipe(**values)


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """Recipe from parsed CLI args (``--recipe`` file + every flag that was given)."""
    overrides = {f.name: getattr(args, f.name) for f in fields(Recipe) if getattr(args, f.name, None) is not None}
    return load_recipe(args.recipe, overrides)
