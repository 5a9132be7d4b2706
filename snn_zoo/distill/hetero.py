"""Energy-aware KD with heterogeneous temperatures (OUR definition).

The published work (Lee et al., "Energy-efficient Knowledge Distillation for Spiking Neural
Networks", arXiv:2106.07172: MNIST, +0.09% accuracy and 65% fewer spikes than ordinary
KD; paper withdrawn) does not publish the method. What this module implements is ours:

    L_hetero = tau_s * tau_t * KL(softmax(t / tau_t) || softmax(s / tau_s))      (batch-mean)
             + spike_weight * r(student)

* ``tau_t != tau_s``; defaults tau_s = 1, tau_t = 4: the student must match a soft teacher
  distribution with *unscaled* logits, i.e. with a logit spread about tau_s / tau_t of the
  teacher's, which is a pressure towards smaller output drive and thus fewer spikes. Ordinary KD
  (tau_s = tau_t = tau) lets the student logits grow to tau times that spread.
* ``r(student)`` (optional, off when ``spike_weight == 0``) is the student's overall firing rate
  in the current forward pass: sum of spikes of every ``MultiStepNeuron`` divided by the total
  number of neuron-time-steps, kept differentiable (surrogate gradients flow through it).
Spike counts per sample are measured with ``snn_zoo.metrics.SpikeCounter`` to show the trade-off.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..neurons.hooks import NeuronHooks
from .logit import hetero_kd_loss

__all__ = ["HeteroKDLoss", "SpikeRateRegularizer", "hetero_kd_loss"]


class SpikeRateRegularizer(NeuronHooks):
    """Differentiable firing rate of every ``MultiStepNeuron`` in ``model`` (forward hooks).

    ``rate()`` = spikes / neuron-time-steps over the calls since the last ``reset()``; it keeps
    the autograd graph, so ``loss + w * reg.rate()`` penalises spiking. ``remove()`` (or leaving
    the ``with`` block) removes the hooks. Set ``enabled = False`` to pause recording.
    """

    def __init__(self, model: nn.Module):
        self.enabled = True
        super().__init__(model, self._hook)
        self.reset()

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if not self.enabled:
            return
        self._spikes.append(output.sum())
        self._count += output.numel()

    def reset(self) -> None:
        """Forget the spikes recorded so far."""
        self._spikes: list[torch.Tensor] = []
        self._count = 0

    def rate(self) -> torch.Tensor | None:
        """Differentiable overall firing rate, or ``None`` when nothing spiked-capable ran."""
        if not self._spikes:
            return None
        return torch.stack(self._spikes).sum() / self._count


class HeteroKDLoss(nn.Module):
    """``hetero_kd_loss(s, t, tau_student, tau_teacher) + spike_weight * spike_rate`` (our definition)."""

    def __init__(self, tau_student: float = 1.0, tau_teacher: float = 4.0, spike_weight: float = 0.0):
        super().__init__()
        self.tau_student = float(tau_student)
        self.tau_teacher = float(tau_teacher)
        self.spike_weight = float(spike_weight)

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, spike_rate: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = hetero_kd_loss(student_logits, teacher_logits, self.tau_student, self.tau_teacher)
        if self.spike_weight and spike_rate is not None:
            loss = loss + self.spike_weight * spike_rate
        return loss

    def extra_repr(self) -> str:
        return f"tau_student={self.tau_student}, tau_teacher={self.tau_teacher}, spike_weight={self.spike_weight}"
