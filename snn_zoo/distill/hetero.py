"""Energy-aware KD with heterogeneous temperatures (OUR definition).

The published work (Lee et al., "Energy-efficient Knowledge Distillation for Spiking Neural
Networks", arXiv:2106.07172: MNIST, +0.09% accuracy and 65% fewer spikes than ordinary
KD; paper withdrawn) does not publish the method. What this module implements is ours:

    L_hetero = tau_s * tau_t * KL(softmax(t / tau_t) || softmax(s / tau_s))      (batch-mean)
             + spike_weight * r(student)

* ``tau_t != tau_s``; defaults tau_s = 1, tau_t = 4 (``METHOD_DEFAULTS["hetero"]``): the student must
  match a soft teacher distribution with *unscaled* logits, i.e. with a logit spread about tau_s / tau_t of
  the teacher's, a pressure towards smaller output drive. Ordinary KD (tau_s = tau_t = tau) lets the student
  logits grow to tau times that spread. Alone it cuts few spikes (docs/hetero_and_noisy.md).
* ``r(student)`` (default weight 1, per layer; off when ``spike_weight == 0``) is the student's firing rate in
  the current forward pass, kept differentiable (surrogate gradients flow through it): with
  ``spike_per_layer == 0`` the sum of spikes of every ``MultiStepNeuron`` over the total number of
  neuron-time-steps, with ``spike_per_layer == 1`` the mean of each neuron layer's own rate.
Spikes and synaptic operations per image are measured as the model cards count them (``snn_zoo.eval.measure``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..neurons.hooks import NeuronHooks
from .logit import hetero_kd_loss
from .methods import METHOD_DEFAULTS

__all__ = ["HeteroKDLoss", "SpikeRateRegularizer", "hetero_kd_loss"]


class SpikeRateRegularizer(NeuronHooks):
    """Differentiable firing rate of every ``MultiStepNeuron`` in ``model`` (forward hooks).

    ``rate()`` = spikes / neuron-time-steps over the calls since the last ``reset()`` (``per_layer=False``:
    every neuron counts once, so wide early layers dominate), or the mean of each neuron layer's own rate
    (``per_layer=True``: every layer counts once). It keeps the autograd graph, so ``loss + w * reg.rate()``
    penalises spiking. ``remove()`` (or leaving the ``with`` block) removes the hooks. Set ``enabled = False``
    to pause recording.
    """

    def __init__(self, model: nn.Module, per_layer: bool = False):
        self.enabled = True
        self.per_layer = bool(per_layer)
        super().__init__(model, self._hook)
        self.reset()

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if not self.enabled:
            return
        spikes, count = self._layers.get(id(module), (0, 0))
        self._layers[id(module)] = (spikes + output.sum(), count + output.numel())

    def reset(self) -> None:
        """Forget the spikes recorded so far."""
        self._layers: dict[int, tuple[torch.Tensor, int]] = {}

    def rate(self) -> torch.Tensor | None:
        """Differentiable firing rate (overall or mean per layer), or ``None`` when no neuron ran."""
        if not self._layers:
            return None
        if self.per_layer:
            return torch.stack([spikes / count for spikes, count in self._layers.values()]).mean()
        spikes = torch.stack([s for s, _ in self._layers.values()]).sum()
        return spikes / sum(c for _, c in self._layers.values())


class HeteroKDLoss(nn.Module):
    """``hetero_kd_loss(s, t, tau_student, tau_teacher) + spike_weight * spike_rate`` (our definition); unset
    arguments take the method table's defaults (``METHOD_DEFAULTS["hetero"]``), as ``Distiller`` does. Pass the
    rate of a ``SpikeRateRegularizer`` (``per_layer=True`` is the default method's)."""

    def __init__(
        self, tau_student: float | None = None, tau_teacher: float | None = None, spike_weight: float | None = None
    ):
        super().__init__()
        defaults = METHOD_DEFAULTS["hetero"]
        self.tau_student = float(defaults["tau_student"] if tau_student is None else tau_student)
        self.tau_teacher = float(defaults["tau_teacher"] if tau_teacher is None else tau_teacher)
        self.spike_weight = float(defaults["spike_weight"] if spike_weight is None else spike_weight)

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, spike_rate: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = hetero_kd_loss(student_logits, teacher_logits, self.tau_student, self.tau_teacher)
        if self.spike_weight and spike_rate is not None:
            loss = loss + self.spike_weight * spike_rate
        return loss

    def extra_repr(self) -> str:
        return f"tau_student={self.tau_student}, tau_teacher={self.tau_teacher}, spike_weight={self.spike_weight}"
