"""Build the frozen ANN teacher: a zoo architecture's ANN twin, or any timm model."""

from __future__ import annotations

import timm
import torch.nn as nn

from ..distill import get_method
from ..factory import create_model, is_model
from ..io import CONFIG_NAME, CheckpointError, config_num_classes, find_checkpoint, load_weights, read_config
from .recipe import Recipe


def teacher_arch(recipe: Recipe) -> str:
    """The teacher's architecture name ('twin' means the student's own architecture)."""
    return recipe.model if recipe.teacher == "twin" else recipe.teacher


def needs_training(recipe: Recipe) -> bool:
    """A teacher is trained first unless weights are given (checkpoint or hub-pretrained)."""
    return get_method(recipe.method).needs_teacher and not recipe.teacher_checkpoint and not recipe.teacher_pretrained


def build_teacher(recipe: Recipe, num_classes: int, in_chans: int, checkpoint: str | None = None) -> nn.Module:
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
        teacher = timm.create_model(
            arch,
            pretrained=recipe.teacher_pretrained and not checkpoint,
            in_chans=in_chans,
            **classes,
            **recipe.teacher_kwargs,
        )
    if checkpoint:
        file = find_checkpoint(checkpoint, allow_pickle=True)  # .pth teachers go through the allowlisted reader
        config_file = file.parent / CONFIG_NAME
        saved_classes = config_num_classes(read_config(config_file)) if config_file.is_file() else None
        if saved_classes is not None and saved_classes != num_classes:
            raise CheckpointError(
                f"Teacher checkpoint {str(checkpoint)!r} predicts {saved_classes} classes but the "
                f"dataset has {num_classes}; distil from a teacher trained on this dataset."
            )
        load_weights(
            teacher,
            file,
            allow_pickle=True,
            hint=f"The teacher is {arch!r} with {num_classes} classes and {in_chans} input channels.",
        )
    if teacher.num_classes != num_classes:
        raise ValueError(
            f"Teacher {arch!r} predicts {teacher.num_classes} classes but the dataset has {num_classes}; "
            f"pass a checkpoint of a teacher fine-tuned on this dataset."
        )
    return teacher
