"""Blurred knowledge distillation (BKDSNN, Xu et al., ECCV 2024), as in the official code.

Published details matched (arXiv:2407.09083 and the official ``BRDLoss`` in
github.com/Intelligent-Computing-Research-Group/BKDSNN):
  * align: ``nn.Conv2d(C_s, C_t, 1)`` (with bias, torch default) applied *before* the blur,
    only when ``C_s != C_t`` (``align is None`` otherwise);
  * blur matrix: per sample and per channel, shape [N, C_t, 1, 1], a channel is dropped when
    ``u < lambda`` with ``u ~ U[0, 1)`` (drop probability lambda = 0.15), drawn anew on every
    call. Kept channels are *not* rescaled by 1 / (1 - lambda): the official code multiplies
    by the raw 0/1 mask, and so do we;
  * restoration G: Conv3x3(C_t, C_t, padding 1) -> ReLU -> Conv3x3(C_t, C_t, padding 1), with
    bias (torch default), trained with the student;
  * loss: ``alpha * sum((G(B * f_s) - f_t) ** 2) / N``; transformer variant: G's output is
    averaged over space and compared to the teacher's pooled [N, C_t] vector;
  * no feature normalisation (the official ``--use_clip`` teacher rescaling is off by default
    and not implemented here).
Our additions (not in the paper): no blur in eval mode; the teacher feature is detached; a
student map whose spatial size differs from the teacher's is resized to it with bilinear
interpolation (``align_corners=False``) *before* the align conv, so G always runs at the
teacher's resolution; pooled [N, C] student features are treated as [N, C, 1, 1] maps.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BKDLoss", "resize_to"]


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a [B, C, H, W] map to ``size`` (no-op when it already matches)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class BKDLoss(nn.Module):
    """Blurred KD feature loss: ``loss = bkd(student_feature, teacher_feature)``.

    Args:
        student_channels: channels C_s of the student feature (time-averaged map before pooling).
        teacher_channels: channels C_t of the teacher feature.
        alpha: loss weight; 2e-3 for the Spikingformer recipes, 7e-5 for SEW-ResNet on ImageNet.
        blur_prob: lambda, the probability of dropping a channel of a sample (0 disables the blur).

    Accepted shapes (anything else raises ``ValueError`` naming both shapes):
        student [N, C_s, H, W], teacher [N, C_t, H', W']  -> map loss (student resized to H', W');
        student [N, C_s, H, W], teacher [N, C_t]          -> transformer variant (pooled teacher);
        student [N, C_s],       teacher [N, C_t]          -> pooled features, as 1x1 maps.
    """

    def __init__(self, student_channels: int, teacher_channels: int, alpha: float = 2e-3, blur_prob: float = 0.15):
        super().__init__()
        if not 0.0 <= blur_prob < 1.0:
            raise ValueError(f"blur_prob (lambda) must be in [0, 1), got {blur_prob}.")
        self.student_channels = int(student_channels)
        self.teacher_channels = int(teacher_channels)
        self.alpha = float(alpha)
        self.blur_prob = float(blur_prob)
        self.align: nn.Conv2d | None = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if student_channels != teacher_channels
            else None
        )
        self.restore = nn.Sequential(
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=3, padding=1),
        )

    def _check(self, f_s: torch.Tensor, f_t: torch.Tensor) -> None:
        shapes = f"student feature {tuple(f_s.shape)}, teacher feature {tuple(f_t.shape)}"
        if (f_s.dim(), f_t.dim()) not in ((4, 4), (4, 2), (2, 2)):
            raise ValueError(
                f"BKDLoss: incompatible ranks ({shapes}); expected student [N, C, H, W] with teacher "
                f"[N, C, H, W] or pooled [N, C], or both pooled [N, C]. Average event/time "
                f"dimensions before calling."
            )
        if f_s.shape[0] != f_t.shape[0]:
            raise ValueError(f"BKDLoss: batch sizes differ ({shapes}).")
        if f_s.shape[1] != self.student_channels or f_t.shape[1] != self.teacher_channels:
            raise ValueError(
                f"BKDLoss: channel mismatch ({shapes}); this loss was built for student_channels="
                f"{self.student_channels}, teacher_channels={self.teacher_channels}."
            )

    def blur_mask(self, n: int, c: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """A fresh Bernoulli keep-mask [n, c, 1, 1]: 0 with probability ``blur_prob``, else 1."""
        u = torch.rand((n, c, 1, 1), device=device)
        return (u >= self.blur_prob).to(dtype)

    def forward(self, student_feature: torch.Tensor, teacher_feature: torch.Tensor) -> torch.Tensor:
        f_s, f_t = student_feature, teacher_feature.detach()
        self._check(f_s, f_t)
        if f_s.dim() == 2:  # pooled student: a 1x1 map
            f_s = f_s[:, :, None, None]
            f_t = f_t[:, :, None, None]
        elif f_t.dim() == 4:
            f_s = resize_to(f_s, f_t.shape[-2:])
        if self.align is not None:
            f_s = self.align(f_s)
        if self.training and self.blur_prob > 0:
            f_s = f_s * self.blur_mask(f_s.shape[0], f_s.shape[1], f_s.device, f_s.dtype)
        restored = self.restore(f_s)
        if f_t.dim() == 2:  # transformer variant: spatially averaged G output vs pooled teacher
            restored = restored.flatten(2).mean(2)
        return self.alpha * (restored - f_t).pow(2).sum() / f_s.shape[0]

    def extra_repr(self) -> str:
        return (
            f"student_channels={self.student_channels}, teacher_channels={self.teacher_channels}, "
            f"alpha={self.alpha}, blur_prob={self.blur_prob}"
        )
