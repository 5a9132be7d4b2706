"""Writing NIR files: from a model, and beside a checkpoint folder (what a Hub push uploads)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from .export import NIRExportError, export_nir, nir_support
from .neurons import NIR_DT, require_nir

NIR_NAME = "model.nir"  # beside model.safetensors in a run folder / Hub repo


def write_nir(model: nn.Module, sample_input: torch.Tensor, path: str | Path, **export_kwargs) -> Path:
    """Export ``model`` (see :func:`export_nir`) and write the graph with ``nir.write``; returns the path."""
    nir, _ = require_nir()
    graph = export_nir(model, sample_input, **export_kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, graph)
    return path


def sample_input_for(model: nn.Module) -> torch.Tensor:
    """One zero image of the model's configured ``input_size`` ([1, C, H, W])."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size")
    if not size:
        raise ValueError(f"{type(model).__name__} has no pretrained_cfg input_size; pass a sample input.")
    return torch.zeros(1, *size)


def write_nir_beside(folder: str | Path) -> Path | None:
    """Write ``model.nir`` into a checkpoint folder (model.safetensors + config.json) if its model exports.

    Returns the path, or None when NIR cannot express the model or the ``nir`` extra is not installed
    (a push then uploads the checkpoint without it).
    """
    from ..factory import create_model

    try:
        require_nir()
    except ImportError:
        return None
    folder = Path(folder)
    model = create_model(f"local-dir:{folder}", pretrained=True).eval()
    if nir_support(model) is not None:
        return None
    try:
        return write_nir(model, sample_input_for(model), folder / NIR_NAME)
    except NIRExportError:
        return None


def nir_card_line(architecture: str, model_args: dict | None = None) -> str:
    """'yes ...' / 'no: why' for a model card, from the architecture and its SNN settings (built on the meta device)."""
    from ..factory import create_model

    args = {k: v for k, v in (model_args or {}).items() if k not in ("pretrained_cfg",)}
    try:
        with torch.device("meta"):
            model = create_model(architecture, **args)
    except Exception as error:  # an unknown architecture or settings: say so rather than guess
        return f"unknown ({type(error).__name__}: {error})"
    reason = nir_support(model)
    if reason:
        return "no: " + reason.split("cannot export to NIR: ", 1)[-1]
    return (
        f"yes: `{NIR_NAME}` (NIR 1.0, dt = {NIR_DT:g} s per step, IF/LIF with hard reset; "
        f"`snn_zoo.export_nir` / `hub_scripts/export.py --format nir`)"
    )
