"""Noise-trained single-step SNNs, run multi-step afterwards (OUR definition and conversion rule).

Published claim (Jiang & Zhang, "A noise based novel strategy for faster SNN training",
arXiv:2211.05453): train a T=1 SNN with Gaussian noise approximating the membrane-potential
distribution, then run it at T=N without loss, in 65-75% less training time. The details are not
published; this is our rule, with its bound.

The rule (neuron, noise, conversion).
    neuron     IF (h = v + x), reset by subtraction (``v_reset="soft"``), threshold theta
               (``v_threshold``), initial potential ``v_init = theta / 2`` (what ``reset_net`` restores).
    training   T=1; while the model is in training mode every neuron's charge gets uniform noise
               h = theta/2 + x + u,   u ~ U[-s theta/2, s theta/2)   (i.i.d., redrawn every call),
               s = ``single_step_noise``; s = 1 is the rule. Then P(spike | x) = clamp(x / theta, 0, 1).
    conversion the same weights, no noise, ``model.T = N`` (:func:`to_multi_step`); nothing is rescaled.

Why it is lossless in principle. With a constant input x (direct encoding: the first layer sees the same
image at every step), the multi-step neuron's residual potential v_t = (theta/2 + t x) mod theta sweeps
[0, theta), and for 0 <= x <= theta it fires floor((theta/2 + N x) / theta) times in N steps, so its rate is
round(N x / theta) / N: within 1 / (2N) of clamp(x / theta, 0, 1), the T=1 neuron's expected output, for
every x (x < 0: no spike; x > theta: a spike every step). The noise u is the residual potential's spread
around its mean theta/2; training on it makes the T=1 network compute with the rates that the N-step
network reproduces, and the error bound shrinks as 1/(2N). A Gaussian of unbounded support (the paper's
wording) instead gives P(spike | x) = Phi((x - theta/2) / sigma), a sigmoid that no number of steps
reproduces. Deeper layers see spike counts rather than a constant input; their charge over N steps is still
W counts + N b, but the order of the spikes can cost up to one extra spike per layer, the usual ANN-to-SNN
conversion error, which also vanishes as 1/N. ``tests/distill/test_distill_noisy.py`` checks the bound.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from spikingjelly.activation_based.functional import reset_net

from ..neurons.hooks import NeuronHooks
from ..neurons.nodes import MultiStepNeuron
from ..neurons.spec import SOFT_RESET

__all__ = [
    "CONVERSION_NEURON",
    "NoiseAveraged",
    "NoisySingleStep",
    "conversion_neuron_problems",
    "noisy_single_step",
    "to_multi_step",
]

#: The neuron the conversion rule needs, as ``create_model`` / recipe ``model_kwargs`` (v_threshold 1).
CONVERSION_NEURON = dict(neuron="if", v_reset=SOFT_RESET, v_init=0.5)


def conversion_neuron_problems(neuron: str, v_reset, v_threshold: float = 1.0, v_init: float = 0.0) -> list[str]:
    """What keeps a neuron with these settings from the conversion rule ([] when it follows it)."""
    problems = []
    if neuron != "if":
        problems.append(f"neuron {neuron!r} is not 'if' (a leak would make the T=N rate depend on spike timing)")
    if v_reset not in (None, SOFT_RESET):
        problems.append(f"v_reset={v_reset!r} is a hard reset (the rule subtracts the threshold: 'soft')")
    if not math.isclose(float(v_init), float(v_threshold) / 2):
        problems.append(f"v_init={v_init!r} is not v_threshold / 2 = {float(v_threshold) / 2}")
    return problems


class NoisySingleStep(NeuronHooks):
    """Pre-hooks adding U[-s theta/2, s theta/2) to the charge of every ``MultiStepNeuron`` (the rule above).

    Active only in training mode on single-time-step inputs. Every neuron must follow the rule's neuron
    (:func:`conversion_neuron_problems`); ``remove()`` (or leaving the ``with`` block) restores the model exactly.
    """

    def __init__(self, model: nn.Module, scale: float = 1.0, generator: torch.Generator | None = None):
        if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and 0 <= scale < math.inf):
            raise ValueError(
                "single_step_noise (the noise width in units of v_threshold) must be a finite number >= 0, "
                f"got {scale!r}."
            )
        for name, module in model.named_modules():
            if isinstance(module, MultiStepNeuron):
                problems = conversion_neuron_problems(module.kind, module.v_reset, module.v_threshold, module.v_init)
                if problems:
                    raise ValueError(
                        f"noisy single-step training needs every neuron to follow the conversion rule, but "
                        f"{name or type(module).__name__}: {'; '.join(problems)}. Build the model with "
                        f"{CONVERSION_NEURON} (snn_zoo.distill.noisy)."
                    )
        self.scale = float(scale)
        self.generator = generator
        super().__init__(model, self._hook, pre=True)

    def _hook(self, module: MultiStepNeuron, args: tuple) -> tuple | None:
        if not module.training or self.scale == 0 or not args:
            return None
        x = args[0]
        if not (module.step_mode == "s" or x.shape[0] == 1):  # multi-step inputs run noise-free
            return None
        # IF: h = v + x, so noise on the input is noise on the membrane. No gradient flows into it.
        u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) - 0.5
        return (x + (self.scale * module.v_threshold) * u, *args[1:])


def noisy_single_step(
    model: nn.Module, scale: float = 1.0, generator: torch.Generator | None = None
) -> NoisySingleStep:
    """Install noisy single-step training on ``model``; use as ``with noisy_single_step(m):`` or keep the handle
    and call ``.remove()``. The model should be built with :data:`CONVERSION_NEURON` and set to ``T=1``."""
    return NoisySingleStep(model, scale, generator=generator)


class NoiseAveraged(nn.Module):
    """The noisy T=1 network's expected logits, estimated as the mean over ``draws`` noisy forwards.

    What the conversion is measured against: the T=N network should do as well as the network the noise
    training optimised. Noise is on in every mode (``eval()`` keeps BN's running statistics); the wrapped model
    runs at T=1 and its neuron state is reset before each draw.
    """

    def __init__(self, model: nn.Module, draws: int = 64, scale: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        if not isinstance(draws, int) or draws < 1:
            raise ValueError(f"draws must be an integer >= 1, got {draws!r}.")
        self.model, self.draws, self.scale, self.generator = model, draws, scale, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.model.T
        self.model.T = 1
        neurons = [m for m in self.model.modules() if isinstance(m, MultiStepNeuron)]
        modes = [m.training for m in neurons]
        try:
            with noisy_single_step(self.model, self.scale, generator=self.generator):
                for m in neurons:
                    m.train()  # the hooks add noise in training mode only
                total = 0
                for _ in range(self.draws):
                    reset_net(self.model)
                    total = total + self.model(x)
        finally:
            for m, mode in zip(neurons, modes):
                m.train(mode)
            self.model.T = T
            reset_net(self.model)
        return total / self.draws


def to_multi_step(model: nn.Module, T: int) -> nn.Module:
    """Run the same weights at ``T`` time steps (sets ``model.T``); returns the model."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}.")
    if not hasattr(model, "T"):
        raise TypeError(f"{type(model).__name__} has no time-step attribute T.")
    model.T = T
    return model
