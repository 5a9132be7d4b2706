"""IF, LIF and PLIF multi-step neurons on spikingjelly's MemoryModule.

The module holds the state (``v``) and parameters; the math lives in the ``snn_zoo::multistep_*``
custom ops (:mod:`.ops`: the torch kernel on any device, the fused cupy kernel on CUDA), which
pick the kernel from ``backend`` and the tensor's device. spikingjelly's
``functional.reset_net`` resets them like its own neurons.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from spikingjelly.activation_based import base

from .backend import log_backend_choice, validate_backend
from .ops import multistep
from .spec import NeuronSpec, check_bool, check_neuron_settings, check_tau
from .surrogates import get_surrogate
from .torch_kernel import state_dtype


class MultiStepNeuron(base.MemoryModule):
    """Base class: input [T, N, ...] -> spikes [T, N, ...]; single-step input [N, ...] also works."""

    kind = ""

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate: str = "sigmoid",
        alpha: float | None = None,
        detach_reset: bool = False,
        backend: str = "auto",
        step_mode: str = "m",
        v_init: float = 0.0,
    ):
        super().__init__()
        sg = get_surrogate(surrogate)
        self.surrogate = sg.name
        # Refuse non-finite numbers, strings for booleans, v_reset >= v_threshold ... by name.
        checked = check_neuron_settings(
            v_threshold=v_threshold,
            v_reset=v_reset,
            alpha=sg.default_alpha if alpha is None else alpha,
            detach_reset=detach_reset,
            leaky=False,
            v_init=v_init,
        )
        self.alpha = checked["alpha"]
        # spikingjelly-style attribute, so tools that inspect neurons find it.
        self.surrogate_function = sg.sj_class(alpha=self.alpha)
        self.v_threshold = checked["v_threshold"]
        self.v_reset = checked["v_reset"]  # None = soft reset (also spelled "soft")
        self.detach_reset = checked["detach_reset"]
        self.backend = validate_backend(backend)
        log_backend_choice(self.backend)
        self.step_mode = step_mode
        # The potential reset_net restores (spikingjelly's memory reset value); 0 unless a conversion rule needs
        # another (noisy single-step training: v_threshold / 2, see snn_zoo.distill.noisy).
        self.v_init = checked["v_init"]
        self.register_memory("v", self.v_init)

    def _spec(self) -> NeuronSpec:
        return NeuronSpec(
            kind=self.kind,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            surrogate=self.surrogate,
            alpha=self.alpha,
            detach_reset=self.detach_reset,
        )

    def _decay_tensor(self) -> torch.Tensor | None:
        return None

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        sd = state_dtype(x_seq.dtype)  # fp32; fp64 for a float64 model
        # A float after reset; a tensor is the state of an earlier call (truncated BPTT: no gradient through it).
        v_init = torch.full_like(x_seq[0], self.v, dtype=sd) if isinstance(self.v, float) else self.v.detach().to(sd)
        spikes, v_last = multistep(x_seq, v_init, self._decay_tensor(), self._spec(), self.backend)
        # An exported program is stateless (v_last is no output of it), and torch.export warns about tensor
        # attributes assigned while tracing ("must be registered as buffers"): keep the state only outside it.
        if not torch.compiler.is_exporting():
            self.v = v_last
        return spikes

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multi_step_forward(x.unsqueeze(0)).squeeze(0)

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, v_init={self.v_init}, surrogate={self.surrogate}"
            f"(alpha={self.alpha}), detach_reset={self.detach_reset}, backend={self.backend}, "
            f"step_mode={self.step_mode}"
        )


class IFNode(MultiStepNeuron):
    """Integrate-and-fire: h = v + x."""

    kind = "if"


class _LeakyNeuron(MultiStepNeuron):
    """Shared by LIF and PLIF: a time constant tau > 1 and where the input enters the charge."""

    def __init__(self, tau: float = 2.0, decay_input: bool = True, **kwargs):
        super().__init__(**kwargs)
        check_tau(tau)
        self.decay_input = check_bool("decay_input", decay_input)

    def _spec(self) -> NeuronSpec:
        return NeuronSpec(**{**super()._spec().__dict__, "decay_input": self.decay_input, "k": self._decay_value()})

    def _decay_value(self) -> float:
        return 0.5  # unused when the kernel gets the decay as a tensor (PLIF)

    def decay(self) -> float:
        """The decay k of the charge (1 / tau; PLIF: sigmoid(w) now), as a plain float."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"tau={self._tau():.4g}, decay_input={self.decay_input}, " + super().extra_repr()


class LIFNode(_LeakyNeuron):
    """Leaky integrate-and-fire with fixed time constant ``tau`` (decay k = 1 / tau)."""

    kind = "lif"

    def __init__(self, tau: float = 2.0, decay_input: bool = True, **kwargs):
        super().__init__(tau=tau, decay_input=decay_input, **kwargs)
        self.tau = check_tau(tau)

    def _decay_value(self) -> float:
        return 1.0 / self.tau

    def decay(self) -> float:
        return self._decay_value()

    def _tau(self) -> float:
        return self.tau


class PLIFNode(_LeakyNeuron):
    """Parametric LIF: learns 1 / tau = sigmoid(w), with w initialised to -log(tau - 1)."""

    kind = "plif"

    def __init__(self, tau: float = 2.0, decay_input: bool = True, **kwargs):
        super().__init__(tau=tau, decay_input=decay_input, **kwargs)
        self.w = nn.Parameter(torch.tensor(-math.log(check_tau(tau) - 1.0)))

    def _decay_tensor(self) -> torch.Tensor:
        return self.w.sigmoid()

    def decay(self) -> float:
        return float(self.w.detach().sigmoid())

    def _tau(self) -> float:
        return 1.0 / self.w.detach().sigmoid().item()
