"""Self-architectural knowledge distillation (SAKD, Neural Networks 2024).

Level 1: ``transfer_ann_weights`` loads a same-architecture ANN (same parameter names: our
``neuron='relu'`` twin, or a timm ``resnet18`` into ``sew_resnet18`` / ``spiking_resnet18``)
into the SNN before training it.
Level 2: logit KD (``logit.kd_loss``) plus ``StageFeatureKD`` on the output of every stage:
time-averaged student stage spikes -> Conv1x1 (no bias) + BN -> MSE against the detached teacher
stage output, summed over stages. ImageNet weights: CE + 10 * feature + 10 * logits at logit
temperature 1 (``SAKD_WEIGHTS``); the official transform is Conv1x1(C -> C, bias=False) +
BatchNorm2d(C) with plain ``F.mse_loss`` (mean reduction), matched here.
Our additions: when the student and teacher stage widths differ the 1x1 conv maps C_s -> C_t;
a spatial mismatch is fixed by resizing the student map to the teacher's (bilinear,
``align_corners=False``) before the transform, as in ``BKDLoss``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import mean_over_time
from .bkd import resize_to

__all__ = ["SAKD_WEIGHTS", "StageFeatureKD", "TransferReport", "transfer_ann_weights"]

# CE + 10 * feature + 10 * logits, logit temperature 1 (SAKD ImageNet recipe).
SAKD_WEIGHTS = {"ce_weight": 1.0, "feature_weight": 10.0, "kd_weight": 10.0, "tau": 1.0}


@dataclass
class TransferReport:
    """What ``transfer_ann_weights`` did, by state_dict key."""

    copied: list[str] = field(default_factory=list)
    missing_in_ann: list[str] = field(default_factory=list)  # SNN keys the ANN lacks (left as is)
    shape_mismatch: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, ann, snn)
    unused_ann: list[str] = field(default_factory=list)  # ANN keys the SNN lacks

    @property
    def complete(self) -> bool:
        """True when every SNN tensor was copied and every ANN tensor was used."""
        return not (self.missing_in_ann or self.shape_mismatch or self.unused_ann)

    def __str__(self) -> str:
        def block(title: str, items: list, limit: int = 10) -> str:
            if not items:
                return ""
            shown = [
                f"    {i}" if isinstance(i, str) else f"    {i[0]}: ann {i[1]} vs snn {i[2]}" for i in items[:limit]
            ]
            more = [f"    ... and {len(items) - limit} more"] if len(items) > limit else []
            return "\n".join([f"  {title} ({len(items)}):", *shown, *more])

        total = len(self.copied) + len(self.missing_in_ann) + len(self.shape_mismatch)
        lines = [f"TransferReport: copied {len(self.copied)}/{total} SNN tensors"]
        for title, items in (
            ("missing in ANN", self.missing_in_ann),
            ("shape mismatch", self.shape_mismatch),
            ("unused ANN tensors", self.unused_ann),
        ):
            text = block(title, items)
            if text:
                lines.append(text)
        return "\n".join(lines)


def transfer_ann_weights(ann: nn.Module | Mapping[str, torch.Tensor], snn: nn.Module) -> TransferReport:
    """Copy every ANN tensor whose name and shape match into ``snn`` (in place); report the rest.

    ``ann`` is a module or a state_dict. Parameters and buffers (BN running statistics
    included) are copied; SNN-only tensors such as PLIF's ``w`` are left untouched.
    """
    ann_sd = ann.state_dict() if isinstance(ann, nn.Module) else dict(ann)
    snn_sd = snn.state_dict()
    report = TransferReport()
    new_values = {}
    for key, value in snn_sd.items():
        if key not in ann_sd:
            report.missing_in_ann.append(key)
        elif tuple(ann_sd[key].shape) != tuple(value.shape):
            report.shape_mismatch.append((key, tuple(ann_sd[key].shape), tuple(value.shape)))
        else:
            new_values[key] = ann_sd[key].detach().to(device=value.device, dtype=value.dtype)
            report.copied.append(key)
    report.unused_ann = [k for k in ann_sd if k not in snn_sd]
    result = snn.load_state_dict(new_values, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # only SNN keys were selected
    return report


class StageFeatureKD(nn.Module):
    """SAKD's stage feature loss: sum_i MSE(BN_i(Conv1x1_i(mean_T s_i)), t_i.detach()).

    Args:
        student_channels: channels of each student stage output.
        teacher_channels: channels of each teacher stage output (same number of stages).

    ``forward(student_features, teacher_features)`` takes one tensor per stage, each
    [B, C, H, W] or [T, B, C, H, W] (averaged over T first: spikes -> rates; the ANN twin's
    [1, B, C, H, W] works the same way).
    """

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(
                f"StageFeatureKD: {len(student_channels)} student stages {list(student_channels)} vs "
                f"{len(teacher_channels)} teacher stages {list(teacher_channels)}."
            )
        self.student_channels = [int(c) for c in student_channels]
        self.teacher_channels = [int(c) for c in teacher_channels]
        self.transforms = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cs, ct, kernel_size=1, bias=False), nn.BatchNorm2d(ct))
            for cs, ct in zip(self.student_channels, self.teacher_channels)
        )

    def forward(
        self, student_features: Sequence[torch.Tensor], teacher_features: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        if len(student_features) != len(self.transforms) or len(teacher_features) != len(self.transforms):
            raise ValueError(
                f"StageFeatureKD expects {len(self.transforms)} stages, got {len(student_features)} "
                f"student and {len(teacher_features)} teacher features."
            )
        loss = None
        for i, (s, t, transform) in enumerate(zip(student_features, teacher_features, self.transforms)):
            s, t = mean_over_time(s), mean_over_time(t.detach())
            if (
                s.dim() != 4
                or t.dim() != 4
                or s.shape[0] != t.shape[0]
                or s.shape[1] != self.student_channels[i]
                or t.shape[1] != self.teacher_channels[i]
            ):
                raise ValueError(
                    f"StageFeatureKD stage {i}: student {tuple(s.shape)} / teacher {tuple(t.shape)} do not "
                    f"match the configured channels {self.student_channels[i]} -> {self.teacher_channels[i]} "
                    f"(expected [B, C, H, W] or [T, B, C, H, W] with equal B)."
                )
            term = F.mse_loss(transform(resize_to(s, t.shape[-2:])), t)
            loss = term if loss is None else loss + term
        return loss
