"""Training recipes: one dataclass, loaded from YAML, every field overridable from the CLI."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..distill.methods import METHODS, check_loss_weights, get_method

__all__ = ["METHODS", "Recipe", "add_recipe_arguments", "load_recipe", "recipe_from_args"]


#: Argument groups of ``--help``, in order: recipe fields name theirs in ``metadata["group"]``.
GROUPS = {
    "model": "student model (the spiking network being trained)",
    "data": "data",
    "augmentation": "augmentation (timm's names; image datasets built with timm's create_transform)",
    "distillation": "distillation (the ANN teacher and the loss)",
    "optimisation": "optimisation (timm's optimizer and scheduler factories)",
    "run": "run (precision, seed, outputs)",
}


def _field(
    default: Any = None,
    help: str = "",
    group: str = "run",
    *,
    choices: Any = None,
    range: tuple | None = None,
    flags: tuple[str, ...] = (),
    factory: Any = None,
) -> Any:
    """One row of the recipe field table: default, ``--help`` text, group, choices, range and CLI flags.

    ``range`` is ``(low, high, low_exclusive)`` with None for unbounded; ``flags`` are the option strings when
    they differ from ``--field-name`` (timm's train.py names first)."""
    metadata = dict(help=help, group=group, choices=choices, range=range, flags=flags)
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Recipe:
    """Everything that defines a checkpoint: one row per field (default, meaning, group, choices, range).

    Defaults = the embedded digits job. ``--help`` of ``hub_scripts/distill.py`` is generated from this table."""

    # student
    model: str | None = _field(
        None,
        "student architecture (snn_zoo.list_models()); unset: chosen from the data (spiking_cnn_small on the "
        "embedded digits; on your own data, sized to its input and a CPU budget, printed at start)",
        "model",
    )
    model_kwargs: dict = _field(
        help="extra create_model arguments, JSON or key=value (e.g. '{\"v_threshold\": 0.5}')",
        group="model",
        factory=dict,
    )
    T: int = _field(4, "time steps the student runs per input", "model", range=(1, None, False))
    neuron: str = _field("lif", "spiking neuron", "model", choices=lambda: _neuron_choices()[0])
    surrogate: str = _field(
        "sigmoid", "surrogate gradient of the spike function", "model", choices=lambda: _neuron_choices()[1]
    )
    tau: float = _field(
        2.0, "membrane time constant of LIF / PLIF (initial value for PLIF)", "model", range=(1.0, None, True)
    )
    detach_reset: bool = _field(False, "detach the reset from the graph (no gradient through the reset)", "model")
    # data
    dataset: str = _field("digits", "dataset name, one of: {datasets}", "data")
    data_dir: str | None = _field(None, "dataset root (not needed for the embedded digits / digits_dvs)", "data")
    img_size: int | None = _field(
        None,
        "input height = width; unset: the images' own size (image folders), else the dataset's",
        "data",
        range=(1, None, False),
    )
    augment: bool = _field(True, "training augmentation of the dataset's transform", "data", flags=("--aug",))
    data_kwargs: dict = _field(
        help="extra create_dataset arguments (e.g. synthetic: num_classes, input_size, num_samples)",
        group="data",
        factory=dict,
    )
    # augmentation (timm's train.py names)
    aa: str | None = _field(None, "auto-augment policy, e.g. 'rand-m9-n1-mstd0.4-inc1'", "augmentation")
    reprob: float = _field(0.0, "random-erasing probability", "augmentation", range=(0.0, 1.0, False))
    remode: str = _field("pixel", "random-erasing fill mode", "augmentation", choices=("const", "rand", "pixel"))
    recount: int = _field(1, "random-erasing count", "augmentation", range=(1, None, False))
    train_interpolation: str | None = _field(
        None,
        "resize interpolation of the transform (unset: the dataset's)",
        "augmentation",
        choices=(None, "random", "bilinear", "bicubic", "nearest"),
    )
    mixup: float = _field(0.0, "mixup alpha (0: off)", "augmentation", range=(0.0, None, False))
    cutmix: float = _field(0.0, "cutmix alpha (0: off)", "augmentation", range=(0.0, None, False))
    mixup_prob: float = _field(1.0, "probability of mixing a batch", "augmentation", range=(0.0, 1.0, False))
    mixup_switch_prob: float = _field(
        0.5, "probability of cutmix instead of mixup when both are on", "augmentation", range=(0.0, 1.0, False)
    )
    mixup_mode: str = _field("batch", "how mixup pairs samples", "augmentation", choices=("batch", "pair", "elem"))
    mixup_off_epoch: int = _field(
        0, "stop mixing from this epoch on (0: never)", "augmentation", range=(0, None, False)
    )
    smoothing: float = _field(0.0, "label smoothing", "augmentation", range=(0.0, 1.0, False))
    model_ema: bool = _field(
        False, "keep an EMA of the weights (timm ModelEmaV3); it is evaluated and saved", "optimisation"
    )
    model_ema_decay: float = _field(0.9998, "EMA decay", "optimisation", range=(0.0, 1.0, True))
    model_ema_warmup: bool = _field(False, "EMA decay warm-up", "optimisation")
    # distillation
    method: str = _field("bkd", "distillation method", "distillation", choices=lambda: METHODS)
    teacher: str | None = _field(
        None,
        "ANN teacher: an snn_zoo architecture (run as its ANN twin), 'twin' (the student's own twin) or a timm "
        "model; unset: the teacher paired with the data's default student (spiking_cnn_base on digits)",
        "distillation",
    )
    teacher_pretrained: bool = _field(False, "timm teachers: load the Hub's pretrained weights", "distillation")
    teacher_checkpoint: str | None = _field(
        None, "teacher weights: run folder, local-dir or .safetensors (then no teacher is trained)", "distillation"
    )
    teacher_kwargs: dict = _field(
        help="extra create_model arguments of the teacher (e.g. img_size for a ViT)",
        group="distillation",
        factory=dict,
    )
    teacher_epochs: int = _field(
        30, "epochs of the teacher's own training (when no weights are given)", "distillation", range=(0, None, False)
    )
    teacher_input_size: int | None = _field(
        None,
        "resize the teacher's image to this side (e.g. 224 for a ViT on 32x32 data)",
        "distillation",
        range=(1, None, False),
    )
    teacher_interpolation: str = _field(
        "bicubic", "interpolation of that resize", "distillation", choices=("bicubic", "bilinear", "nearest")
    )
    loss_weights: dict = _field(
        help="the method's loss weights, JSON or key=value (e.g. alpha=0.002); unset names keep the method's "
        "defaults (snn_zoo.distill.METHOD_DEFAULTS)",
        group="distillation",
        factory=dict,
    )
    single_step_noise: float | None = _field(
        None,
        "train single-step (T=1) with uniform membrane noise of this width in units of v_threshold (1.0: the "
        "lossless conversion rule), then run at T; needs neuron: if and model_kwargs {v_reset: soft, v_init: 0.5} "
        "(snn_zoo.distill.noisy)",
        "distillation",
        range=(0.0, None, False),
    )
    # optimisation
    optimizer: str = _field(
        "adamw", "timm optimizer", "optimisation", choices=lambda: _timm_optimizers(), flags=("--opt", "--optimizer")
    )
    lr: float = _field(5e-3, "learning rate", "optimisation", range=(0.0, None, True))
    weight_decay: float = _field(1e-2, "weight decay", "optimisation", range=(0.0, None, False))
    momentum: float = _field(0.9, "SGD momentum", "optimisation", range=(0.0, 1.0, False))
    sched: str = _field(
        "cosine",
        "timm LR scheduler, stepped per update ('none': constant)",
        "optimisation",
        choices=("cosine", "tanh", "step", "multistep", "poly", "none"),
    )
    warmup_epochs: int = _field(0, "linear warm-up epochs", "optimisation", range=(0, None, False))
    warmup_lr: float = _field(1e-5, "learning rate at the start of warm-up", "optimisation", range=(0.0, None, False))
    min_lr: float = _field(0.0, "lower bound of the scheduled learning rate", "optimisation", range=(0.0, None, False))
    cooldown_epochs: int = _field(
        0, "epochs at min_lr after the schedule (the run lasts epochs + these)", "optimisation", range=(0, None, False)
    )
    decay_epochs: float = _field(
        90.0, "'step' / 'multistep': epochs between decays", "optimisation", range=(0.0, None, True)
    )
    decay_rate: float = _field(0.1, "'step' / 'multistep': decay factor", "optimisation", range=(0.0, None, True))
    epochs: int = _field(40, "student training epochs", "optimisation", range=(1, None, False))
    batch_size: int = _field(
        64,
        "global batch size, split over the processes",
        "optimisation",
        range=(1, None, False),
        flags=("-b", "--batch-size"),
    )
    grad_accum: int = _field(
        1,
        "gradient accumulation steps",
        "optimisation",
        range=(1, None, False),
        flags=("--grad-accum-steps", "--grad-accum"),
    )
    # run
    mixed_precision: str = _field(
        "auto",
        "autocast precision; auto: bf16 on CPUs with AMX and on GPUs with bf16, else fp32 (printed at start)",
        "run",
        choices=("no", "fp16", "bf16", "fp8", "auto"),
    )
    grad_checkpointing: str = _field(
        "off",
        "per-block gradient checkpointing ('packed' keeps spikes at 1 bit)",
        "run",
        choices=("off", "block", "packed"),
    )
    seed: int = _field(0, "random seed (data split, initialisation, shuffling)", "run", range=(0, None, False))
    num_workers: int = _field(
        0, "data loader worker processes", "run", range=(0, None, False), flags=("-j", "--workers", "--num-workers")
    )
    max_steps_per_epoch: int | None = _field(
        None, "stop each epoch after this many steps (dry runs)", "run", range=(0, None, False)
    )
    output: str | None = _field(None, "run folder (default: runs/<model>.<tag>)", "run")
    tag: str | None = _field(
        None, "pretrained tag of the checkpoint (default: <method>_t<T>_<dataset>); a name, not a path", "run"
    )
    log_with: str | None = _field(
        "tensorboard", "experiment tracker of accelerate ('none': off)", "run", choices=lambda: _trackers()
    )

    def __post_init__(self) -> None:
        if self.log_with in ("none", ""):
            self.log_with = None
        if isinstance(self.method, str):
            get_method(self.method)  # the retired 'noisy' -> a clear error saying what to use
        validate_fields(self)  # types, choices and ranges of every field (the field table above)
        check_loss_weights(self.method, self.loss_weights)
        check_name("tag", self.tag)
        if self.model is not None:
            check_name("model", self.model)

    @property
    def mixup_active(self) -> bool:
        """timm's rule: Mixup runs when mixup or cutmix is on (label smoothing alone uses smoothed targets)."""
        return self.mixup > 0 or self.cutmix > 0

    @property
    def run_tag(self) -> str:
        return self.tag or f"{self.method}_t{self.T}_{self.dataset}"

    @property
    def run_name(self) -> str:
        if self.model is None:  # the plan picks the student from the data
            raise ValueError("recipe.model is unset; RunPlan.from_recipe(recipe).recipe names the chosen student.")
        return f"{self.model}.{self.run_tag}"

    @property
    def output_dir(self) -> Path:
        return Path(self.output or Path("runs") / self.run_name)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def field_range(f: dataclasses.Field) -> tuple | None:
    """(low, high, low_exclusive) of a numeric field, or None."""
    return f.metadata.get("range")


def field_choices(f: dataclasses.Field) -> tuple | None:
    """The allowed values of a field (its metadata's tuple or callable), or None."""
    choices = f.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(what: str, value: str | None) -> None:
    """Tags and model names become folder names: letters, digits, '_', '-', '.', no path parts."""
    if value is None:
        return
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise ValueError(
            f"recipe field {what!r} is {value!r}; it must be a name (letters, digits, '_', '-', '.'; no '/' "
            f"or '..'), because it names the run folder. Choose the folder with --output instead."
        )


_KINDS = {
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    # NaN slips through every range comparison and inf through open ranges: a float field is finite or refused.
    "float": (
        "a finite number",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    ),
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

    New fields are covered by their annotation and their row's ``choices`` and ``range``. Numbers given as
    text in YAML ('1e-3', which YAML 1.1 reads as a string) are accepted for float fields."""
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
        choices = field_choices(f)
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
        if field_range(f) is not None:
            low, high, exclusive = field_range(f)
            if (low is not None and (value < low or (exclusive and value == low))) or (
                high is not None and value > high
            ):
                rule = " and ".join(
                    ([f"{'>' if exclusive else '>='} {low}"] if low is not None else [])
                    + ([f"<= {high}"] if high is not None else [])
                )
                raise ValueError(f"recipe field {f.name!r} must be {rule}, got {value!r}.")


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
            raise argparse.ArgumentTypeError(f"expected JSON or key=value pairs, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _field_type(f: dataclasses.Field) -> Any:
    kind = _field_kind(f)[0]
    return {"dict": _parse_dict, "int": int, "float": float}.get(kind, str)


def _help_text(f: dataclasses.Field, datasets: str) -> str:
    """The field's meaning, default, choices and range, as ``--help`` shows them."""
    text = f.metadata.get("help", "").replace("{datasets}", datasets)
    parts = []
    choices = field_choices(f)
    if choices is not None:
        shown = [c for c in choices if c is not None]
        parts.append(f"choices: {', '.join(map(str, shown[:14]))}{' ...' if len(shown) > 14 else ''}")
    rng = field_range(f)
    if rng is not None:
        low, high, exclusive = rng
        parts.append(
            " and ".join(
                ([f"{'>' if exclusive else '>='} {low}"] if low is not None else [])
                + ([f"<= {high}"] if high is not None else [])
            )
        )
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    if _field_kind(f)[0] != "bool":
        parts.append(f"default: {'unset' if default is None or default == {} else default}")
    parts.append(f"recipe: {f.name}")
    return f"{text} ({'; '.join(parts)})".replace("%", "%%")


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per Recipe field, grouped as :data:`GROUPS`, each with its meaning, default, choices and range.

    timm's train.py names where timm has the flag (``--opt``, ``-b``, ``-j/--workers``, ``--grad-accum-steps``);
    booleans are switches (``--model-ema`` / ``--no-model-ema``). Unset flags leave the recipe's value alone."""
    parser.add_argument(
        "--recipe", type=str, default=None, metavar="YAML", help="recipe file; the flags below override its fields"
    )
    from ..data import list_datasets

    datasets = ", ".join(list_datasets())
    groups = {name: parser.add_argument_group(title) for name, title in GROUPS.items()}
    for f in fields(Recipe):
        group = groups[f.metadata.get("group", "run")]
        flags = f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)
        if _field_kind(f)[0] == "bool":
            group.add_argument(
                *flags, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=_help_text(f, datasets)
            )
            if f.name == "augment":  # timm's train.py spells the off switch --no-aug
                group.add_argument("--no-augment", dest=f.name, action="store_false", help=argparse.SUPPRESS)
        else:
            metavar = {"dict": "JSON|K=V", "int": "N", "float": "X"}.get(_field_kind(f)[0], "NAME")
            group.add_argument(
                *flags, dest=f.name, type=_field_type(f), default=None, metavar=metavar, help=_help_text(f, datasets)
            )


#: A recipe is a short settings file: larger files, or YAML whose aliases expand past this many nodes, are refused.
MAX_RECIPE_BYTES = 256 * 1024
MAX_RECIPE_NODES = 20_000


def _count_nodes(value: Any, budget: int) -> int:
    """Nodes of the expanded value (aliases counted each time they are used), stopping once past ``budget``."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return seen
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return seen


def _read_yaml(path: Path) -> dict:
    """The mapping in recipe ``path``, bounded in size and alias expansion (a billion-laughs file is refused)."""
    if path.is_dir():
        raise ValueError(f"--recipe {str(path)!r} is a directory; pass one .yaml file (see recipes/).")
    if not path.is_file():
        raise FileNotFoundError(f"Recipe {str(path)!r} does not exist; see recipes/ for the published ones.")
    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise ValueError(
            f"Recipe {str(path)!r} is {size} bytes; recipes are settings files of at most {MAX_RECIPE_BYTES} bytes."
        )
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(
            f"Recipe {str(path)!r} is not valid YAML ({problem} at{where or ' an unknown place'}); "
            "fix the syntax there."
        ) from e
    if _count_nodes(values, MAX_RECIPE_NODES) > MAX_RECIPE_NODES:
        raise ValueError(
            f"Recipe {str(path)!r} expands to more than {MAX_RECIPE_NODES} values (YAML aliases repeating nested "
            f"data); a recipe is a short list of settings: write the values out."
        )
    values = values or {}
    if not isinstance(values, dict):
        raise ValueError(f"Recipe {str(path)!r} must be a mapping of field: value, got a {type(values).__name__}.")
    return values


def load_recipe(path: str | Path | None = None, overrides: dict | None = None) -> Recipe:
    """Recipe from a YAML file (or the defaults) with ``overrides`` applied on top.

    ``output`` in a recipe file must be a relative path without '..' (a shared recipe cannot send writes
    elsewhere); the ``--output`` flag may name any folder."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        values = _read_yaml(path)
        known = {f.name for f in fields(Recipe)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Recipe {str(path)!r} has unknown keys {unknown}; valid keys: {sorted(known)}.")
        out = values.get("output")
        if isinstance(out, str) and (Path(out).is_absolute() or ".." in Path(out).parts or out.startswith("~")):
            raise ValueError(
                f"Recipe {str(path)!r} sets output {out!r}; a recipe file may only name a relative folder without "
                f"'..'. Pass --output to write elsewhere."
            )
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Recipe(**values)
    except (ValueError, TypeError) as e:
        if path is None:
            raise
        raise ValueError(f"Recipe {str(path)!r}: {e}") from e


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """Recipe from parsed CLI args (``--recipe`` file + every flag that was given)."""
    overrides = {f.name: getattr(args, f.name) for f in fields(Recipe) if getattr(args, f.name, None) is not None}
    return load_recipe(args.recipe, overrides)
