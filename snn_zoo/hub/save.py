"""Write a zoo model as a timm-format folder (model.safetensors + config.json), atomically."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

import torch.nn as nn
from timm.models import save_for_hf

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".tar")


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    """Text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_pretrained(model: nn.Module, directory: Union[str, Path], model_args: Optional[dict] = None) -> Path:
    """Save ``model`` so ``create_model("local-dir:<directory>")`` rebuilds it, in snn_zoo or timm.

    Writes ``model.safetensors`` (never a pickle) and timm's ``config.json`` whose
    ``model_args`` carry the SNN settings (T, neuron, surrogate, ...). Files are staged in
    a temporary folder and moved into place one by one, so a crash never leaves a
    half-written file in ``directory``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".staging-"))
    try:
        save_for_hf(model, staging, model_args=model_args, safe_serialization=True)
        for item in staging.iterdir():
            os.replace(item, directory / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
