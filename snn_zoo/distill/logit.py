"""Logit distillation losses: Hinton KD, WSLD (BKDSNN's logit term) and heterogeneous temperatures.

All take logits [B, K]; the teacher logits are detached (the teacher is never trained).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["hetero_kd_loss", "kd_loss", "wsld_loss"]


def _check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> None:
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(
            f"Expected student and teacher logits of the same shape [B, num_classes], got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}."
        )


def hetero_kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau_student: float, tau_teacher: float
) -> torch.Tensor:
    """KD with different softmax temperatures for the teacher and the student (our definition).

    ``KL(softmax(t / tau_teacher) || softmax(s / tau_student))``, averaged over the batch
    ("batchmean"), times ``tau_student * tau_teacher``. The factor reduces to Hinton's tau^2 when
    the temperatures are equal and keeps the teacher-pull part of the gradient w.r.t. the student
    logits, ``-softmax(t / tau_teacher) / tau_student``, at unit scale in the high-temperature
    limit. The published method (Lee et al., arXiv:2106.07172, withdrawn) gives no formula; this is ours.
    """
    _check_logits(student_logits, teacher_logits)
    if tau_student <= 0 or tau_teacher <= 0:
        raise ValueError(f"Temperatures must be > 0, got tau_student={tau_student}, tau_teacher={tau_teacher}.")
    log_p_s = F.log_softmax(student_logits / tau_student, dim=1)
    p_t = F.softmax(teacher_logits.detach() / tau_teacher, dim=1)
    return F.kl_div(log_p_s, p_t, reduction="batchmean") * (tau_student * tau_teacher)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float) -> torch.Tensor:
    """Hinton KD: ``KL(softmax(t / tau) || softmax(s / tau)) * tau^2``, batch-mean.

    This is SAKD's logit term (``F.kl_div(..., reduction='batchmean') * T * T``, tau 1 on ImageNet).
    """
    return hetero_kd_loss(student_logits, teacher_logits, tau, tau)


def wsld_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, tau: float = 2.0
) -> torch.Tensor:
    """Weighted soft-label distillation, BKDSNN's logit term (arXiv:2407.09083, official code).

    Per sample i:
        soft_i = -sum_k softmax(t_i / tau)_k * log_softmax(s_i / tau)_k        (soft CE, not KL)
        r_i    = CE(s_i, y_i) / (CE(t_i, y_i) + 1e-7)   (hard-label CEs at tau 1, detached)
        w_i    = 1 - exp(-max(r_i, 0))
    loss = tau^2 * mean_i(w_i * soft_i).
    ``labels`` are class indices [B] or soft targets [B, K] (mixup / label smoothing); with soft
    targets both CEs are soft-target CEs, as BKDSNN's code feeds its mixed targets into the weight.
    """
    _check_logits(student_logits, teacher_logits)
    soft_targets = labels.dim() == 2
    if labels.shape != (student_logits.shape if soft_targets else student_logits.shape[:1]):
        raise ValueError(
            f"labels must be [B] class indices or [B, K] soft targets, got {tuple(labels.shape)} "
            f"for logits {tuple(student_logits.shape)}."
        )
    t = teacher_logits.detach()
    soft = -(F.softmax(t / tau, dim=1) * F.log_softmax(student_logits / tau, dim=1)).sum(1)
    if soft_targets:
        ce_s = -(labels * F.log_softmax(student_logits.detach(), dim=1)).sum(1)
        ce_t = -(labels * F.log_softmax(t, dim=1)).sum(1)
    else:
        ce_s = F.cross_entropy(student_logits.detach(), labels, reduction="none")
        ce_t = F.cross_entropy(t, labels, reduction="none")
    ratio = (ce_s / (ce_t + 1e-7)).clamp_min(0.0)
    weight = 1.0 - torch.exp(-ratio)
    return tau**2 * (weight * soft).mean()
