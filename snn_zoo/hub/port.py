"""Port an official checkpoint (as its authors saved it) into a run folder the Hub push publishes unchanged.

``hub_scripts/port_official.py`` (one tag) and ``hub_scripts/release.py`` (every tag) are thin
command lines over :func:`port_checkpoint`. The family's ``checkpoint_filter_fn`` maps the authors'
key layout; the tag's cfg supplies their neuron settings, T and eval transform; the folder gets
``model.safetensors``, ``config.json``, ``results.json`` (the authors' reported numbers, and what
this port measured, kept apart) and the card ``README.md`` (:func:`snn_zoo.hub.card.render_ported_card`).

Inputs and links: the authors' file may be a symbolic link (e.g. into a download folder): only the
weights read from it reach the output, never its bytes, and results.json records the name of the
file it resolved to (names and the SHA-256 only: results.json is published, local paths stay home).
The output folder must be new, empty, or an earlier port of the same tag (replaced whole, said
aloud): a folder holding anything else is refused, so a port never mixes into another run's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..factory import create_model
from ..io import atomic_directory, atomic_write_text, save_pretrained
from ..models import ported_weights
from ..models._authors_files import SOURCE_COMMITS, authors_file, dataset_key
from .card import ported_status, render_ported_card

__all__ = [
    "ann_twin_macs",
    "check_image_folder",
    "check_port_output",
    "data_id",
    "port_checkpoint",
    "ported_results",
    "revalidate",
    "sha256_of",
]

#: results.json key that marks a folder as written by a port (and of which file).
PORT_MARK = "ported_from"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ann_twin_macs(arch: str, input_size: tuple[int, ...], **model_kwargs: Any) -> float:
    """MACs per image of the ANN twin (ReLU, T=1) of ``arch``: counted by shape on the meta device
    (no memory, no compute); the same count as ``snn_zoo.metrics.energy_report(...).ann_macs``."""
    from torch.utils.flop_counter import FlopCounterMode

    kwargs = {**model_kwargs, "neuron": "relu", "T": 1}
    with torch.device("meta"):
        model = create_model(arch, **kwargs).eval()
        x = torch.empty(1, *input_size)
    model.check_inputs = False  # the NaN/inf scan reads values, which meta tensors do not have
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 2


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def ported_results(tag: str, model: nn.Module | None = None, model_kwargs: Mapping[str, Any] | None = None) -> dict:
    """The results.json of a ported tag before any measurement: provenance, settings, reported top-1,
    eval transform, theoretical ANN-twin MACs. With ``model`` its parameters are counted, else the
    registered size is (on the meta device)."""
    from timm.models import get_pretrained_cfg

    ported = ported_weights()
    if tag not in ported:
        raise ValueError(f"{tag!r} is not a ported official checkpoint; choose one of {sorted(ported)}.")
    info, cfg, arch = ported[tag], get_pretrained_cfg(tag), tag.split(".")[0]
    kwargs = dict(model_kwargs or {})
    args = {**info["snn_args"], **kwargs}
    if model is None:
        with torch.device("meta"):
            model = create_model(arch, **args)
    model_args = {**getattr(model, "snn_args", {}), **args}
    return dict(
        model=tag,
        architecture=arch,
        license=cfg.license,
        dataset_key=dataset_key(info),
        reported={k: info[k] for k in ("top1", "dataset", "reported_in", "repo", "origin_url", "source_license")},
        source_commit=SOURCE_COMMITS.get(str(info["repo"])),
        authors_files=list(authors_file(tag).names),
        model_args={k: _jsonable(v) for k, v in model_args.items()},
        param_count=sum(p.numel() for p in model.parameters()),
        eval_transform=dict(
            input_size=list(cfg.input_size),
            crop_pct=cfg.crop_pct,
            interpolation=cfg.interpolation,
            mean=list(cfg.mean),
            std=list(cfg.std),
        ),
        ann_macs_per_image=ann_twin_macs(arch, tuple(cfg.input_size), **args),
        measured=None,
    )


def check_image_folder(data_dir: str | Path, num_classes: int | None = None, flag: str = "--data-dir") -> Path:
    """An ImageFolder of a validation split (one folder per class, sorted names = label order), or a
    clear error naming what is missing, before any model is built."""
    data_dir = Path(data_dir).expanduser()
    how = (
        f"{flag} must be an image folder of the validation split: one sub-folder per class holding its "
        f"images, sorted class names = label order (e.g. VAL/n01440764/x.JPEG)."
    )
    if not data_dir.is_dir():
        raise ValueError(f"{flag} {str(data_dir)!r} is not a folder. {how}")
    classes = sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        what = "is empty" if not any(data_dir.iterdir()) else "has no class folders"
        raise ValueError(f"{flag} {str(data_dir)!r} {what}. {how}")
    if num_classes is not None and len(classes) > num_classes:
        raise ValueError(
            f"{flag} {str(data_dir)!r} has {len(classes)} class folders; the model has {num_classes} classes. "
            f"Point {flag} at the validation split of its dataset."
        )
    empty = [p.name for p in classes if not any(f.suffix.lower() in _IMAGE_SUFFIXES for f in p.iterdir())]
    if empty:
        raise ValueError(f"{flag} {str(data_dir)!r}: class folders without images: {empty[:5]}. {how}")
    return data_dir


def revalidate(
    model: nn.Module,
    data_dir: str | Path,
    batch_size: int = 64,
    max_batches: int | None = None,
    energy_samples: int = 16,
    workers: int = 4,
    device: str = "cpu",
    label: str | None = None,
) -> dict[str, Any]:
    """Top-1 / top-5 with the model's eval transform, firing rates, SOPs and energy
    (:func:`snn_zoo.eval.measure.measure`, the one results row of the zoo) on an ImageFolder.

    ``data`` names the data as ``label (folder/)``; the local path itself stays out of the row (it is
    published with the card), only a digest of it (``data_id``) tells a rerun whether the data changed."""
    from timm.data import create_transform, resolve_data_config
    from torchvision.datasets import ImageFolder

    from ..eval.measure import SPIKE_KEYS, measure

    data_dir = check_image_folder(data_dir, getattr(model, "num_classes", None))
    data_cfg = resolve_data_config({}, model=model)
    dataset = ImageFolder(str(data_dir), transform=create_transform(**data_cfg, is_training=False))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    model = model.to(device).eval()
    row = measure(model, loader, device=torch.device(device), max_batches=max_batches, energy_samples=energy_samples)
    model.cpu()
    keep = ("top1", "top5", "num_samples", *SPIKE_KEYS)
    return dict(
        data=f"{label or 'images'} ({data_dir.name}/)",
        data_id=data_id(data_dir),
        energy_samples=min(energy_samples, len(dataset)),
        **{k: row[k] for k in keep},
    )


def data_id(data_dir: str | Path) -> str:
    """A short digest of a data folder's resolved path: which data a measurement used, without the path."""
    return hashlib.sha256(str(Path(data_dir).expanduser().resolve()).encode()).hexdigest()[:16]


def check_port_output(output: str | Path, tag: str) -> list[str]:
    """Refuse an output that is a file, a link, or a folder holding anything but an earlier port of
    ``tag``; returns the names an earlier port of ``tag`` holds (replaced whole by the new port)."""
    output = Path(output).expanduser()
    if output.is_symlink():
        raise ValueError(f"--output {str(output)!r} is a symbolic link; give a real folder (new or empty).")
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {str(output)!r} is a file; give a folder (new or empty) for the port.")
    if not output.exists():
        return []
    names = sorted(p.name for p in output.iterdir())
    if not names:
        return []
    previous = None
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads((output / "results.json").read_text())
    if isinstance(previous, dict) and PORT_MARK in previous and previous.get("model") == tag:
        return names
    owner = previous.get("model") or previous.get("name") if isinstance(previous, dict) else None
    raise ValueError(
        f"--output {str(output)!r} already holds "
        + (f"the run of {owner!r}" if owner else "other files")
        + f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); a port would mix into it. Port into a "
        f"new or empty folder, e.g. --output runs/{tag}."
    )


def port_checkpoint(
    tag: str,
    checkpoint: str | Path,
    output: str | Path,
    *,
    data_dir: str | Path | None = None,
    batch_size: int = 64,
    max_batches: int | None = None,
    energy_samples: int = 16,
    workers: int = 4,
    device: str = "cpu",
    model_kwargs: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write the run folder ``output`` for ``tag`` from the authors' ``checkpoint``; returns its results.json.

    Every input is checked before the model is built; the folder is written beside ``output`` and
    swapped in whole, so an interrupted port leaves no half-written folder.
    """
    from timm.models import get_pretrained_cfg

    ported = ported_weights()
    if tag not in ported:
        raise ValueError(f"{tag!r} is not a ported official checkpoint; choose one of {sorted(ported)}.")
    checkpoint, output = Path(checkpoint).expanduser(), Path(output).expanduser()
    if not checkpoint.exists():
        raise ValueError(f"Checkpoint {str(checkpoint)!r} does not exist.")
    if not checkpoint.is_file():
        raise ValueError(f"Checkpoint {str(checkpoint)!r} is not a file; give the authors' .pth / .pth.tar.")
    previous = check_port_output(output, tag)
    kwargs = dict(model_kwargs or {})
    if data_dir is not None:
        check_image_folder(data_dir, kwargs.get("num_classes", get_pretrained_cfg(tag).num_classes))
    model = create_model(tag, pretrained=True, pretrained_cfg_overlay=dict(file=str(checkpoint)), **kwargs).eval()
    model.pretrained_cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in ("file", "state_dict")}
    results = ported_results(tag, model, kwargs)
    # names only (results.json is published): the file, the file a link resolved to, and the digest
    results[PORT_MARK] = dict(file=checkpoint.name, resolved=checkpoint.resolve().name, sha256=sha256_of(checkpoint))
    results["source_sha256"] = results[PORT_MARK]["sha256"]
    if data_dir is not None:
        label = str(ported[tag]["dataset"])
        results["measured"] = revalidate(
            model, data_dir, batch_size, max_batches, energy_samples, workers, device, label
        )
    results["status"] = ported_status(results)
    if previous:
        log(f"replacing the earlier port of {tag} in {output} ({', '.join(previous)})")
    with atomic_directory(output) as tmp:
        save_pretrained(model, tmp, model_args=results["model_args"])
        atomic_write_text(tmp / "results.json", json.dumps(results, indent=1) + "\n")
        atomic_write_text(tmp / "README.md", render_ported_card(results))
    return results
