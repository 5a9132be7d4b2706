"""Validation of zoo models on a dataset: accuracy, firing rates and energy, one row per model.

The logic behind ``hub_scripts/validate.py`` (timm's validate.py, extended with time):
:func:`validate_model` evaluates one model, :func:`validate_models` expands a wildcard and
evaluates every match, :func:`write_results` writes the rows as CSV or JSON.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..data import DatasetError, create_dataset, create_loader, dataset_info
from ..factory import create_model, list_models
from ..io import CONFIG_NAME, CheckpointError, PathLike, config_num_classes, load_weights, read_config
from ..models import SNN_MODELS
from .measure import ENERGY_SAMPLES, MEASURE_KEYS, measure

__all__ = [
    "RESULT_COLUMNS",
    "CheckpointError",
    "ValidationError",
    "expand_model_names",
    "format_row",
    "load_checkpoint",
    "resolve_amp_dtype",
    "run_eval_data",
    "validate_model",
    "validate_models",
    "write_results",
]

_logger = logging.getLogger(__name__)

#: Columns of a results row, in order (``firing_rates`` is a dict: JSON only).
RESULT_COLUMNS = ("model", *MEASURE_KEYS, "neuron", "dataset", "split", "img_size", "checkpoint")
_WILDCARD_CHARS = "*?["


class ValidationError(ValueError):
    """Bad input to validation (model name, checkpoint, options); the message says how to fix it."""


# -- models ---------------------------------------------------------------------------------------------
def expand_model_names(pattern: str, pretrained: bool = False) -> list[str]:
    """Model names for ``pattern``: itself, or every snn_zoo model matching a wildcard (``'sew*'``).

    With ``pretrained=True`` a wildcard lists 'arch.tag' names that have weights (timm's
    ``list_models(pretrained=True)``). Raises :class:`ValidationError` when nothing matches.
    """
    if not pattern or not isinstance(pattern, str):
        raise ValidationError(f"pattern must be a model name or a wildcard pattern, got {pattern!r}.")
    if not any(c in pattern for c in _WILDCARD_CHARS):
        return [pattern]
    names = list_models(pattern, pretrained=pretrained)
    if not names:
        what = "pretrained snn_zoo checkpoints" if pretrained else "snn_zoo models"
        all_names = list_models(pretrained=pretrained)
        raise ValidationError(f"No {what} match {pattern!r}. Available: {', '.join(all_names) or 'none'}.")
    return names


def _checkpoint_config(checkpoint: PathLike) -> dict:
    """timm's config.json beside the checkpoint (empty if there is none); CheckpointError if unreadable."""
    path = Path(checkpoint).expanduser()
    folder = path if path.is_dir() else path.parent
    return read_config(folder, SNN_MODELS) if (folder / CONFIG_NAME).is_file() else {}


def load_checkpoint(model: nn.Module, checkpoint: PathLike, strict: bool = True, allow_pickle: bool = False) -> Path:
    """Load a checkpoint (run folder or file) into ``model`` through :func:`snn_zoo.io.load_weights`.

    Safetensors by default; ``allow_pickle`` reads trusted ``.pth`` / ``.pth.tar`` / ``.bin`` files
    with ``torch.load(weights_only=True)``. Prefixes from DDP / torch.compile are stripped and a
    ``Distiller`` state dict gives its student part. Raises :class:`snn_zoo.io.CheckpointError`
    naming the file, the non-finite tensors, or the keys and shapes that differ.
    """
    return load_weights(
        model,
        checkpoint,
        strict=strict,
        allow_pickle=allow_pickle,
        hint="Check the model name and num_classes / in_chans (they must match the training run).",
    )


def resolve_amp_dtype(amp: bool, device: torch.device, amp_dtype: str | None = None) -> torch.dtype | None:
    """Autocast dtype when ``amp`` is on: bfloat16 on CPU; float16 (default) or bfloat16 on CUDA."""
    if not amp:
        if amp_dtype is not None:
            raise ValidationError("amp_dtype is only used with amp=True.")
        return None
    names = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if amp_dtype is not None and amp_dtype not in names:
        raise ValidationError(f"Unknown amp_dtype {amp_dtype!r}; choose float16 or bfloat16.")
    if device.type == "cpu":
        if amp_dtype is not None and names[amp_dtype] != torch.bfloat16:
            raise ValidationError("CPU autocast uses bfloat16; leave amp_dtype unset or pass amp_dtype='bfloat16'.")
        return torch.bfloat16
    if device.type == "cuda":
        return names[amp_dtype] if amp_dtype else torch.float16
    raise ValidationError(f"amp=True is supported on cpu and cuda, not {device.type!r}.")


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'.")
    return dev


def _plot_path(firing_plot: PathLike, model_name: str, many: bool) -> Path:
    path = Path(firing_plot)
    if not many:
        return path
    safe = model_name.replace("/", "_").replace(":", "_")
    return path.with_name(f"{path.stem}-{safe}{path.suffix or '.png'}")


# -- validation -----------------------------------------------------------------------------------------
RESULTS_NAME = "results.json"


def run_eval_data(checkpoint: PathLike | None) -> dict | None:
    """The validation data a training run recorded in its results.json (``eval_data``: dataset, data_dir and
    the exact create_dataset kwargs), so a run folder validates on what it was measured on; None otherwise."""
    if checkpoint is None:
        return None
    path = Path(checkpoint).expanduser()
    folder = path if path.is_dir() else path.parent
    file = folder / RESULTS_NAME
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text()).get("eval_data")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValidationError(f"{str(file)!r} is not a results file ({e}); pass --dataset explicitly.") from e


def _build_model(
    model: str | nn.Module, checkpoint: PathLike | None, pretrained: bool, kwargs: dict, classes: int
) -> tuple:
    """(network, display name): a given module, or ``create_model`` with the checkpoint's config.json args under
    the caller's; weights from ``checkpoint`` when given."""
    if isinstance(model, nn.Module):
        if checkpoint is not None:
            load_checkpoint(model, checkpoint)
        return model, type(model).__name__
    config = _checkpoint_config(checkpoint) if checkpoint is not None else {}
    if config:
        arch = model.split(":")[-1].split(".")[0]
        if config.get("architecture") not in (None, arch) and ":" not in model:
            raise CheckpointError(
                f"{str(Path(checkpoint))!r} holds a {config['architecture']!r} checkpoint (its config.json), not "
                f"{arch!r}; pass model={config['architecture']!r} or leave model out."
            )
        kwargs = {**config.get("model_args", {}), **{k: v for k, v in kwargs.items() if v is not None}}
    if kwargs.get("num_classes") is None:  # the checkpoint's, else the dataset's
        kwargs["num_classes"] = config_num_classes(config) or classes
    try:
        net = create_model(model, pretrained=pretrained, **{k: v for k, v in kwargs.items() if v is not None})
    except (ValueError, TypeError, RuntimeError) as e:
        raise ValidationError(f"Could not create model {model!r}: {e}") from e
    if checkpoint is not None:
        load_checkpoint(net, checkpoint)
    return net, model


def _check_options(batch_size: int, T: int | None, img_size: int | None, plot: bool, energy: bool) -> None:
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1, got {batch_size}.")
    if T is not None and (not isinstance(T, int) or T < 1):
        raise ValidationError(f"T must be an integer >= 1, got {T!r}.")
    if img_size is not None and img_size < 1:
        raise ValidationError(f"img_size must be >= 1, got {img_size}.")
    if plot and not energy:
        raise ValidationError("firing_plot needs the energy/firing-rate pass (energy=True).")


def _eval_dataset(info, data_dir, split: str, recorded: dict | None, T: int, size: tuple | None) -> tuple:
    """(validation dataset, its create_dataset kwargs): a run's recorded ones, else the dataset's at ``size``."""
    data_kwargs = dict(recorded["kwargs"]) if recorded else dict(T=T if info.is_event else None, input_size=size)
    try:
        ds = create_dataset(info.name, data_dir=data_dir, split=split, is_training=False, **data_kwargs)
    except DatasetError as e:
        raise ValidationError(str(e)) from e
    return ds, data_kwargs


def _write_plot(row: dict, firing_plot: PathLike, name: str, dataset: str) -> None:
    from ..metrics.plots import plot_firing_rates

    if row["firing_rates"]:
        plot_firing_rates(row["firing_rates"], firing_plot, title=f"{name} on {dataset} (T={row['T']})")
    else:
        _logger.warning("%s has no spiking layers: no firing-rate plot written.", name)


def validate_model(
    model: str | nn.Module,
    dataset: str | None = None,
    data_dir: PathLike | None = None,
    split: str = "val",
    batch_size: int = 64,
    T: int | None = None,
    neuron: str | None = None,
    pretrained: bool = False,
    checkpoint: PathLike | None = None,
    amp: bool = False,
    amp_dtype: str | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
    img_size: int | None = None,
    max_batches: int | None = None,
    device: str | torch.device | None = None,
    workers: int = 0,
    firing_plot: PathLike | None = None,
    energy: bool = True,
    energy_samples: int = ENERGY_SAMPLES,
    progress: bool = True,
    model_kwargs: dict | None = None,
    data_from: PathLike | None = None,
) -> dict[str, Any]:
    """Evaluate one model and measure its spikes and energy (:func:`snn_zoo.eval.measure.measure`): one row.

    Args:
        model: an snn_zoo name ('arch', 'arch.tag', 'hf-hub:...', 'local-dir:...') or a built module
            (then ``T``/``neuron``/``num_classes``/``in_chans``/``pretrained`` are not used).
        dataset, data_dir, split: see ``snn_zoo.data.create_dataset``. Unset with a training run's folder as
            ``checkpoint``: the data the run was measured on (its results.json); else ``digits``.
        batch_size, workers, max_batches: evaluation loader and how many batches to run.
        T, neuron, num_classes, in_chans, img_size: default to the checkpoint's / the model's / the dataset's.
        pretrained: load the registry's weights; ``checkpoint``: a run folder or ``.safetensors``.
        amp, amp_dtype: autocast for the accuracy pass (bf16 on CPU; fp16/bf16 on CUDA); energy counts in fp32.
        energy: count SynOps / energy on the first ``energy_samples`` images; the firing rates come from there.
        firing_plot: write the per-layer firing-rate bar chart here (PNG).
        data_from: a training run's folder whose recorded validation data to use (default: ``checkpoint``'s), e.g.
            for a module built from that run and wrapped (``snn_zoo.distill.NoiseAveraged``).
    Returns a dict with the keys of :data:`RESULT_COLUMNS` (energy keys ``None`` if ``energy=False``).
    """
    _check_options(batch_size, T, img_size, firing_plot is not None, energy)
    dev = _resolve_device(device)
    autocast_dtype = resolve_amp_dtype(amp, dev, amp_dtype)
    recorded = run_eval_data(data_from or checkpoint) if dataset is None and img_size is None else None
    dataset = dataset or (recorded or {}).get("dataset") or "digits"
    data_dir = data_dir if data_dir is not None else (recorded or {}).get("data_dir")
    try:
        info = dataset_info(dataset, data_dir=data_dir)
    except DatasetError as e:
        raise ValidationError(str(e)) from e
    in_chans = in_chans or (recorded["kwargs"]["input_size"][0] if recorded else info.in_chans)
    kwargs = dict(model_kwargs or {}, T=T, neuron=neuron, num_classes=num_classes, in_chans=in_chans)
    net, name = _build_model(model, checkpoint, pretrained, kwargs, info.num_classes)
    if getattr(net, "num_classes", info.num_classes) < info.num_classes:
        raise ValidationError(
            f"Model {name!r} has {net.num_classes} classes but dataset {dataset!r} has {info.num_classes}; "
            f"pass num_classes={info.num_classes} (with a matching checkpoint)."
        )
    net = net.to(dev).eval()
    size = (in_chans, img_size, img_size) if img_size else None
    ds, data_kwargs = _eval_dataset(info, data_dir, split, recorded, T or int(getattr(net, "T", 1) or 1), size)
    loader = create_loader(ds, batch_size=batch_size, is_training=False, num_workers=workers)
    options = dict(max_batches=max_batches, energy=energy, energy_samples=energy_samples, progress=progress)
    row = measure(net, loader, device=dev, amp_dtype=autocast_dtype, desc=name, **options)
    if firing_plot is not None:
        _write_plot(row, firing_plot, name, info.name)
    size = (data_kwargs.get("input_size") or info.input_size)[-1]
    where = dict(
        dataset=info.name, split=split, img_size=size, checkpoint=None if checkpoint is None else str(checkpoint)
    )
    meta = dict(model=name, neuron=getattr(net, "neuron", None), **where)
    return {column: {**row, **meta}.get(column) for column in RESULT_COLUMNS}


def validate_models(
    model: str | None,
    pretrained: bool = False,
    checkpoint: PathLike | None = None,
    firing_plot: PathLike | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """:func:`validate_model` for every name ``model`` expands to (wildcards like ``'sew*'``).

    ``model`` may be omitted when ``checkpoint`` is a run folder whose config.json names the
    architecture. With several models a ``firing_plot`` path gets a ``-<model>`` suffix.
    """
    if not model:
        config = _checkpoint_config(checkpoint) if checkpoint is not None else {}
        model = config.get("architecture")
        if not model:
            raise ValidationError("Pass model=NAME (or a checkpoint run folder whose config.json names it).")
    names = expand_model_names(model, pretrained=pretrained)
    if checkpoint is not None and len(names) > 1:
        raise ValidationError(f"A checkpoint fits one model, but {model!r} matches {len(names)}: {names}.")
    rows = []
    for name in names:
        plot = _plot_path(firing_plot, name, len(names) > 1) if firing_plot is not None else None
        rows.append(validate_model(name, pretrained=pretrained, checkpoint=checkpoint, firing_plot=plot, **kwargs))
    return rows


def _scalar_columns(rows: Sequence[dict]) -> list[str]:
    keys = list(dict.fromkeys([*RESULT_COLUMNS, *(k for r in rows for k in r)]))
    return [k for k in keys if not any(isinstance(r.get(k), (dict, list)) for r in rows)]


def write_results(rows: Sequence[dict[str, Any]], path: PathLike, fmt: str | None = None) -> Path:
    """Write result rows as ``csv`` (scalar columns; per-layer firing rates left out) or ``json``.

    ``fmt`` defaults to the file extension (``.json`` -> json, otherwise csv).
    """
    path = Path(path)
    fmt = (fmt or ("json" if path.suffix.lower() == ".json" else "csv")).lower()
    if fmt not in ("csv", "json"):
        raise ValidationError(f"fmt must be csv or json, got {fmt!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps(list(rows), indent=2) + "\n")
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_scalar_columns(rows), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buf.getvalue())
    return path


def format_row(row: dict[str, Any]) -> str:
    """One-line summary of a results row, like timm's ``* Acc@1 ...`` line."""

    def fmt(v: Any, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    return (
        f"* {row['model']}: Acc@1 {row['top1']:.3f} Acc@5 {row['top5']:.3f} loss {row['loss']:.4f} "
        f"T={row['T']} params {row['param_count'] / 1e6:.3f}M fr {fmt(row['mean_firing_rate'], '.4f')} "
        f"SOPs/img {fmt(row['sops_per_image'], '.4g')} E/img {fmt(row['energy_mj_per_image'], '.4g')} mJ "
        f"(ANN {fmt(row['ann_energy_mj_per_image'], '.4g')} mJ) n={row['num_samples']}"
    )
