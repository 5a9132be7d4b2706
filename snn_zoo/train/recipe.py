"""Training recipes: one dataclass, loaded from YAML, every field overridable from the CLI."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..distill.methods import METHODS, get_method

__all__ = ["METHODS", "Recipe", "add_recipe_arguments", "load_recipe", "recipe_from_args"]


@dataclass
class Recipe:
    """Everything that defines a published checkpoint. Defaults = the embedded digits job."""

    # student
    model: str = "spiking_cnn_small"
    model_kwargs: dict = field(default_factory=dict)
    T: int = 4
    neuron: str = field(default="lif", metadata={"choices": lambda: _neuron_choices()[0]})
    surrogate: str = field(default="sigmoid", metadata={"choices": lambda: _neuron_choices()[1]})
    tau: float = 2.0
    detach_reset: bool = False
    # data
    dataset: str = "digits"
    data_dir: str | None = None
    img_size: int | None = None
    augment: bool = True
    data_kwargs: dict = field(default_factory=dict)  # e.g. synthetic: num_classes, input_size, num_samples
    # augmentation, timm's train.py names (image datasets with timm's create_transform)
    aa: str | None = None  # auto-augment policy, e.g. 'rand-m9-n1-mstd0.4-inc1'
    reprob: float = 0.0  # random-erasing probability
    remode: str = field(default="pixel", metadata={"choices": ("const", "rand", "pixel")})
    recount: int = 1
    train_interpolation: str | None = field(
        default=None, metadata={"choices": (None, "random", "bilinear", "bicubic", "nearest")}
    )
    # mixup / cutmix / label smoothing (timm.data.Mixup + soft-target cross-entropy)
    mixup: float = 0.0  # mixup alpha (0: off)
    cutmix: float = 0.0  # cutmix alpha (0: off)
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    mixup_mode: str = field(default="batch", metadata={"choices": ("batch", "pair", "elem")})
    mixup_off_epoch: int = 0  # stop mixing from this epoch on (0: never)
    smoothing: float = 0.0  # label smoothing
    # weight EMA (timm.utils.ModelEmaV3): evaluated, saved and resumed when on
    model_ema: bool = False
    model_ema_decay: float = 0.9998
    model_ema_warmup: bool = False
    # distillation
    method: str = "bkd"
    teacher: str = "spiking_cnn_base"  # zoo arch (run as its ANN twin), 'twin', or any timm model name
    teacher_pretrained: bool = False  # timm teachers: load hub weights
    teacher_checkpoint: str | None = None  # run folder / local-dir / .safetensors
    teacher_kwargs: dict = field(default_factory=dict)  # e.g. a ViT teacher at the student's img_size
    teacher_epochs: int = 30
    teacher_input_size: int | None = None  # resize the teacher's image, e.g. 224 for a ViT on 32x32 data
    teacher_interpolation: str = field(default="bicubic", metadata={"choices": ("bicubic", "bilinear", "nearest")})
    loss_weights: dict = field(default_factory=dict)  # e.g. alpha, blur_prob, beta, tau, feature, logit
    # optimisation
    optimizer: str = field(default="adamw", metadata={"choices": lambda: _timm_optimizers()})
    lr: float = 5e-3
    weight_decay: float = 1e-2
    momentum: float = 0.9
    # timm's scheduler factory, stepped per update; trains epochs + cooldown_epochs in all, as timm does
    sched: str = field(default="cosine", metadata={"choices": ("cosine", "tanh", "step", "multistep", "poly", "none")})
    warmup_epochs: int = 0
    warmup_lr: float = 1e-5
    min_lr: float = 0.0
    cooldown_epochs: int = 0
    decay_epochs: float = 90.0  # 'step' / 'multistep'
    decay_rate: float = 0.1
    epochs: int = 40
    batch_size: int = 64  # global batch, split over processes
    grad_accum: int = 1
    # auto: bf16 where the CPU (AMX/AVX512-BF16) or GPU runs it natively, else fp32 (train/precision.py)
    mixed_precision: str = field(default="auto", metadata={"choices": ("no", "fp16", "bf16", "fp8", "auto")})
    # gradient checkpointing per block: memory flat in depth at ~1 extra forward; 'packed' stores spikes at 1 bit
    grad_checkpointing: str = field(default="off", metadata={"choices": ("off", "block", "packed")})
    seed: int = 0
    num_workers: int = 0
    max_steps_per_epoch: int | None = None  # dry runs
    # train single-step (T=1) with N(0, sigma^2) membrane noise, then run at T (snn_zoo.distill.noisy)
    single_step_noise: float | None = None
    # output
    output: str | None = None
    tag: str | None = None  # pretrained tag; default '<method>_t<T>_<dataset>'
    log_with: str | None = field(default="tensorboard", metadata={"choices": lambda: _trackers()})

    def __post_init__(self) -> None:
        if self.log_with in ("none", ""):
            self.log_with = None
        validate_fields(self)  # types, choices and ranges of every field (FIELD_RANGES, field metadata)
        check_loss_weights(self.method, self.loss_weights)
        get_method(self.method)  # unknown method (or the retired 'noisy') -> a clear error saying what to use
        if self.model_ema and not 0.0 < self.model_ema_decay < 1.0:
            raise ValueError(f"model_ema_decay must be in (0, 1), got {self.model_ema_decay}.")
        if self.T < 1:
            raise ValueError(f"T must be >= 1, got {self.T}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}.")

    @property
    def mixup_active(self) -> bool:
        """timm's rule: Mixup runs when mixup or cutmix is on (label smoothing alone uses smoothed targets)."""
        return self.mixup > 0 or self.cutmix > 0

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


#: Allowed ranges of numeric fields, one row per field: name -> (low, high, low_exclusive); None = unbounded.
#: Choices live in each field's metadata ("choices": a tuple, or a callable returning one).
FIELD_RANGES: dict[str, tuple] = {
    "T": (1, None, False),
    "tau": (1.0, None, True),
    "epochs": (1, None, False),
    "teacher_epochs": (0, None, False),
    "batch_size": (1, None, False),
    "grad_accum": (1, None, False),
    "img_size": (1, None, False),
    "lr": (0.0, None, True),
    "weight_decay": (0.0, None, False),
    "momentum": (0.0, 1.0, False),
    "warmup_epochs": (0, None, False),
    "warmup_lr": (0.0, None, False),
    "min_lr": (0.0, None, False),
    "cooldown_epochs": (0, None, False),
    "decay_epochs": (0.0, None, True),
    "decay_rate": (0.0, None, True),
    "seed": (0, None, False),
    "num_workers": (0, None, False),
    "max_steps_per_epoch": (0, None, False),
    "reprob": (0.0, 1.0, False),
    "recount": (1, None, False),
    "mixup": (0.0, None, False),
    "cutmix": (0.0, None, False),
    "mixup_prob": (0.0, 1.0, False),
    "mixup_switch_prob": (0.0, 1.0, False),
    "mixup_off_epoch": (0, None, False),
    "smoothing": (0.0, 1.0, False),
    "teacher_input_size": (1, None, False),
    "single_step_noise": (0.0, None, False),
}
_KINDS = {
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "dict": ("a mapping (key: value, ...)", lambda v: isinstance(v, dict)),
}


def _neuron_choices() -> tuple:
    from ..neurons import NEURON_CHOICES, SURROGATES

    return tuple(NEURON_CHOICES), tuple(SURROGATES)


def _timm_optimizers() -> tuple:
    from timm.optim import list_optimizers

    return tuple(list_optimizers())


def _trackers() -> tuple:
    from accelerate.utils import LoggerType

    return (None, *(t.value.lower() for t in LoggerType))


def _field_kind(f: dataclasses.Field) -> tuple[str, bool]:
    """('int' | 'float' | 'bool' | 'str' | 'dict' | other, optional) from the annotation text."""
    text = str(f.type).replace(" ", "")
    optional = text.startswith("Optional[") or text.endswith("|None")
    if text.startswith("Optional["):
        text = text[len("Optional[") : -1]
    return text.removesuffix("|None"), optional


def validate_fields(recipe: Recipe) -> None:
    """Check every field's type, choices and range; one ValueError naming the field and what is allowed.

    New fields are covered by their annotation, a ``"choices"`` entry in their metadata and a row
    in :data:`FIELD_RANGES`. Numbers given as text in YAML ('1e-3', which YAML 1.1 reads as a
    string) are accepted for float fields."""
    import difflib

    for f in fields(recipe):
        value = getattr(recipe, f.name)
        kind, optional = _field_kind(f)
        desc, ok = _KINDS.get(kind, (None, None))
        if value is None:
            if optional or ok is None:
                continue
            raise ValueError(f"recipe field {f.name!r} must be {desc}, got null.")
        if kind == "float" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if ok is not None and not ok(value):
            raise ValueError(f"recipe field {f.name!r} must be {desc}, got {value!r} ({type(value).__name__}).")
        if kind == "float":
            value = float(value)
            setattr(recipe, f.name, value)
        choices = f.metadata.get("choices")
        choices = choices() if callable(choices) else choices
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices if c is not None], n=3)
            shown = (
                list(choices)
                if len(choices) <= 12
                else f"{[c for c in choices if c is not None][:12]} ... ({len(choices)} in all)"
            )
            raise ValueError(
                f"recipe field {f.name!r} is {value!r}; choose one of {shown}."
                + (f" Close matches: {close}." if close else "")
            )
        if f.name in FIELD_RANGES:
            low, high, exclusive = FIELD_RANGES[f.name]
            if (low is not None and (value < low or (exclusive and value == low))) or (
                high is not None and value > high
            ):
                rule = " and ".join(
                    ([f"{'>' if exclusive else '>='} {low}"] if low is not None else [])
                    + ([f"<= {high}"] if high is not None else [])
                )
                raise ValueError(f"recipe field {f.name!r} must be {rule}, got {value!r}.")


def check_loss_weights(method: str, weights: dict) -> None:
    """Loss-weight names must be the method's (``METHOD_TABLE[method].defaults``) and values numbers."""
    known = get_method(method).defaults
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"Unknown loss weight(s) {unknown} for method {method!r}; valid: {sorted(known)}.")
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"loss weight {key!r} must be a number, got {value!r} ({type(value).__name__}).")


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
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise argparse.ArgumentTypeError(
                f"not valid JSON ({e}); write it as '{{\"key\": value}}' or key=value,key=value"
            ) from e
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


def load_recipe(path: str | Path | None = None, overrides: dict | None = None) -> Recipe:
    """Recipe from a YAML file (or the defaults) with ``overrides`` applied on top."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Recipe {str(path)!r} does not exist; see recipes/ for the published ones.")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ValueError(
                f"Recipe {str(path)!r} is not valid YAML ({problem} at{where or ' an unknown place'}); "
                f"fix the syntax there."
            ) from e
        if not isinstance(values, dict):
            raise ValueError(f"Recipe {str(path)!r} must be a mapping of field: value, got a {type(values).__name__}.")
        known = {f.name for f in fields(Recipe)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Recipe {str(path)!r} has unknown keys {unknown}; valid keys: {sorted(known)}.")
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Recipe(**values)
    except ValueError as e:
        if path is None:
            raise
        raise ValueError(f"Recipe {str(path)!r}: {e}") from e


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """Recipe from parsed CLI args (``--recipe`` file + every flag that was given)."""
    overrides = {f.name: getattr(args, f.name) for f in fields(Recipe) if getattr(args, f.name, None) is not None}
    return load_recipe(args.recipe, overrides)
