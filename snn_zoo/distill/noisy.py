"""Noise-trained single-step SNNs, run multi-step afterwards (OUR definition).

Published claim (Jiang & Zhang, "A noise based novel strategy for faster SNN training",
arXiv:2211.05453): train a T=1 SNN with Gaussian noise approximating the
membrane-potential distribution, then run it at T=N without loss, in 65-75% less training
time. The details are not published; this is our exact rule.

Rule. While the model is in training mode and a ``MultiStepNeuron`` receives a single time step
(multi-step input [1, N, ...] or single-step input), its charged membrane potential gets
independent Gaussian noise before the threshold comparison:

    h~ = h + eps,   eps ~ N(0, sigma^2) i.i.d. per neuron and sample, redrawn every call.

Why: at T=1 the neuron always charges from the reset state, so ``h`` is a deterministic function
of the input. Running at T=N, the charge at t > 1 also carries the residual potential left by
earlier steps (sub-threshold leftovers, reset effects), which a T=1-trained network never saw.
eps stands for that residual: a zero-mean spread of ``h`` around its T=1 value with standard
deviation sigma (in the units of ``v_threshold``), so the learned weights tolerate it.
Evaluation (``model.eval()``) and any call with T > 1 are noise-free; after training set
``model.T = N`` (``to_multi_step``) and run the same weights multi-step.

Implementation without touching the neuron code: a forward pre-hook adds noise to the input
current x. For every neuron kind the charge is affine in x, h = a(v, v_reset, k) + c * x, with
    IF:                       c = 1                (h = v + x)
    LIF / PLIF, decay_input:  c = k                (h = v + k (x - (v - v_reset)))
    LIF / PLIF, otherwise:    c = 1                (h = v - k (v - v_reset) + x)
where k = 1 / tau (LIF) or sigmoid(w) (PLIF, taken without gradient). Hence adding
eps / c ~ N(0, (sigma / c)^2) to x adds exactly eps to h, for any starting potential v (at T=1
after ``reset_net`` v = 0). The noise carries no gradient (it is an additive constant).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..neurons.hooks import NeuronHooks
from ..neurons.kinds import get_neuron_kind
from ..neurons.nodes import MultiStepNeuron

__all__ = ["NoisySingleStep", "input_gain", "noisy_single_step", "to_multi_step"]


def input_gain(neuron: MultiStepNeuron) -> float:
    """c = dh/dx of the neuron's charge equation (see the module docstring)."""
    kind = get_neuron_kind(neuron.kind)
    if not kind.leaky:
        return 1.0
    return kind.input_gain(neuron.decay(), neuron.decay_input)


class NoisySingleStep(NeuronHooks):
    """Pre-hooks adding N(0, sigma^2) to the charged potential of every ``MultiStepNeuron``.

    Active only in training mode on single-time-step inputs. ``remove()`` (or leaving the
    ``with`` block) restores the model exactly.
    """

    def __init__(self, model: nn.Module, sigma: float, generator: torch.Generator | None = None):
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}.")
        self.sigma = float(sigma)
        self.generator = generator
        super().__init__(model, self._hook, pre=True)

    def _single_step(self, module: MultiStepNeuron, x: torch.Tensor) -> bool:
        return module.step_mode == "s" or x.shape[0] == 1

    def _hook(self, module: MultiStepNeuron, args: tuple) -> tuple | None:
        if not module.training or self.sigma == 0 or not args:
            return None
        x = args[0]
        if not self._single_step(module, x):
            return None
        std = self.sigma / input_gain(module)
        noise = torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return (x + std * noise, *args[1:])


def noisy_single_step(model: nn.Module, sigma: float, generator: torch.Generator | None = None) -> NoisySingleStep:
    """Install noisy single-step training on ``model``; use as ``with noisy_single_step(m, 0.3):``
    or keep the handle and call ``.remove()``. The model should be built / set with ``T=1``."""
    return NoisySingleStep(model, sigma, generator=generator)


def to_multi_step(model: nn.Module, T: int) -> nn.Module:
    """Run the same weights at ``T`` time steps (sets ``model.T``); returns the model."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}.")
    if not hasattr(model, "T"):
        raise TypeError(f"{type(model).__name__} has no time-step attribute T.")
    model.T = T
    return model
