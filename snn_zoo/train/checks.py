"""Checks that run before any training: the recipe against the data, the teacher and the student.

Each raises one ``ValueError`` saying what is wrong and how to fix it, so a bad recipe stops in
seconds instead of after the teacher's training.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..distill import teacher_input, transfer_ann_weights
from ..factory import create_model
from .recipe import Recipe
from .teacher import teacher_arch

__all__ = ["check_recipe_against_data", "check_teacher_input", "check_transfer", "describe_input"]


def check_recipe_against_data(recipe: Recipe, info, num_processes: int = 1) -> None:
    """Settings that cannot work with this dataset or process count."""
    per_process = max(1, recipe.batch_size // num_processes)
    if recipe.mixup_active and per_process % 2:
        raise ValueError(
            f"mixup / cutmix mix each batch with its reverse and need an even batch per process; "
            f"batch_size {recipe.batch_size} over {num_processes} process(es) gives {per_process}."
        )
    if recipe.single_step_noise is not None and info.is_event:
        raise ValueError(
            f"single_step_noise trains at T=1 on static images, but {info.name!r} gives event frames "
            f"with their own T; train event data directly at T (drop single_step_noise)."
        )


def describe_input(recipe: Recipe, info, sample_shape: tuple, source: str) -> dict:
    """What the student (and teacher) will see, for the start-of-run line and results.json."""
    c, h, w = (int(v) for v in sample_shape[-3:])
    teacher = None
    if recipe.teacher_input_size:
        teacher = [c, recipe.teacher_input_size, recipe.teacher_input_size]
    frames = f"{int(sample_shape[0])} event frames" if len(sample_shape) == 4 else f"static, repeated T={recipe.T}"
    summary = f"student input {c}x{h}x{w} ({source}), {frames}"
    if teacher:
        summary += f"; teacher input {c}x{teacher[1]}x{teacher[2]} ({recipe.teacher_interpolation})"
    return {
        "input_size": [c, h, w],
        "source": source,
        "is_event": bool(info.is_event),
        "teacher_input_size": teacher,
        "summary": summary,
    }


def check_teacher_input(recipe: Recipe, teacher: nn.Module, sample: torch.Tensor) -> None:
    """Run the teacher once on the image it will get (one data sample through ``teacher_input``)."""
    x = sample.unsqueeze(1) if sample.dim() == 4 else sample.unsqueeze(0)  # [T, 1, C, H, W] or [1, C, H, W]
    image = teacher_input(x, recipe.teacher_input_size, recipe.teacher_interpolation)
    was_training = teacher.training
    teacher.eval()
    try:
        with torch.no_grad():
            teacher(image)
    except Exception as e:  # any shape error inside a foreign model: report it with the fix
        raise ValueError(
            f"Teacher {teacher_arch(recipe)!r} cannot take the image the data gives it, "
            f"{list(image.shape[1:])} (teacher_input_size={recipe.teacher_input_size}): {e}. Set teacher_input_size "
            f"to the side it expects (e.g. 224 for a ViT at its native resolution, bicubic) or build it for this "
            f"size with teacher_kwargs (e.g. img_size)."
        ) from e
    finally:
        teacher.train(was_training)


def check_transfer(recipe: Recipe, teacher: nn.Module, num_classes: int, in_chans: int) -> None:
    """SAKD copies the teacher's weights into the student by name: the two must share the architecture."""
    with torch.random.fork_rng():
        probe = create_model(
            recipe.model,
            T=recipe.T,
            neuron=recipe.neuron,
            num_classes=num_classes,
            in_chans=in_chans,
            **recipe.model_kwargs,
        )
    report = transfer_ann_weights(teacher, probe)
    if not report.copied or report.shape_mismatch:
        raise ValueError(
            f"method 'sakd' copies the teacher's weights into the student by name, but teacher "
            f"{teacher_arch(recipe)!r} does not fit student {recipe.model!r}: {len(report.copied)} tensors fit, "
            f"{len(report.shape_mismatch)} differ in shape, {len(report.missing_in_ann)} are missing. "
            f"Use teacher: twin (the student's ANN twin) or a timm model of the same architecture "
            f"(e.g. resnet18 for sew_resnet18)."
        )
