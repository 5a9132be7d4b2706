"""Build the frozen ANN teacher: a zoo architecture's ANN twin, or any timm model."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import timm
import torch.nn as nn
from safetensors.torch import load_file

from ..factory import create_model, is_model
from .recipe import Recipe


def teacher_arch(recipe: Recipe) -> str:
    """The teacher's architecture name ('twin' means the student's own architecture)."""
    return recipe.model if recipe.teacher == "twin" else recipe.teacher


def needs_training(recipe: Recipe) -> bool:
    """A teacher is trained first unless weights are given (checkpoint or hub-pretrained)."""
    return recipe.method not in ("none", "noisy") and not recipe.teacher_checkpoint and not recipe.teacher_pretrained


def build_teacher(recipe: Recipe, num_classes: int, in_chans: int, checkpoint: Optional[str] = None) -> nn.Module:
    """Teacher ANN for ``recipe``; loads ``checkpoint`` (run folder or .safetensors) when given.

    Zoo architectures are built as their ANN twin (neuron='relu', T=1) with the student's
    model_kwargs when the teacher is the student's twin. Raises if the teacher's class
    count differs from the dataset's.
    """
    arch = teacher_arch(recipe)
    checkpoint = checkpoint or recipe.teacher_checkpoint
    if is_model(arch):
        extra = {**(recipe.model_kwargs if recipe.teacher == "twin" else {}), **recipe.teacher_kwargs}
        teacher = create_model(arch, neuron="relu", num_classes=num_classes, in_chans=in_chans, **extra)
    else:
        # Hub-pretrained timm teachers keep their own head, so a class mismatch is reported below.
        classes = {} if recipe.teacher_pretrained and not checkpoint else {"num_classes": num_classes}
        teacher = timm.create_model(arch, pretrained=recipe.teacher_pretrained and not checkpoint,
                                    in_chans=in_chans, **classes, **recipe.teacher_kwargs)
    if checkpoint:
        path = Path(checkpoint)
        weights = path / "model.safetensors" if path.is_dir() else path
        if not weights.is_file():
            raise FileNotFoundError(f"Teacher checkpoint {str(weights)!r} does not exist.")
        config = weights.parent / "config.json"
        saved_classes = json.loads(config.read_text()).get("num_classes") if config.is_file() else None
        if saved_classes is not None and saved_classes != num_classes:
            raise ValueError(f"Teacher checkpoint {str(path)!r} predicts {saved_classes} classes but the dataset "
                             f"has {num_classes}; distil from a teacher trained on this dataset.")
        try:
            teacher.load_state_dict(load_file(str(weights)))
        except RuntimeError as e:
            raise ValueError(f"Teacher checkpoint {str(weights)!r} does not fit {arch!r} with {num_classes} "
                             f"classes and {in_chans} input channels: {e}") from e
    if teacher.num_classes != num_classes:
        raise ValueError(
            f"Teacher {arch!r} predicts {teacher.num_classes} classes but the dataset has {num_classes}; "
            f"give a teacher fine-tuned on this dataset with --teacher-checkpoint."
        )
    return teacher
