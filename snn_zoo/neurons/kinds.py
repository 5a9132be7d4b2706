"""The neuron kinds (IF, LIF, PLIF): one table, read by every kernel, hook, adapter and exporter.

Each kind is one charge equation (see :class:`snn_zoo.neurons.spec.NeuronSpec`):
    IF:                   h = v + x
    LIF / PLIF, decay_input: h = v + k * (x - (v - v_reset))
    LIF / PLIF otherwise: h = v - k * (v - v_reset) + x
with the decay k = 1 / tau (LIF, a constant) or sigmoid(w) (PLIF, learned). Everything that differs
between kinds is a field here, so code asks ``get_neuron_kind(name).leaky`` instead of comparing names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NeuronKind:
    """One neuron kind: its charge's shape, its CUDA kernel id and its spikingjelly counterpart."""

    name: str
    kernel_id: int  # KIND in csrc/multistep.cu
    leaky: bool  # has a decay k (tau, decay_input); IF has neither
    learned_decay: bool  # k = sigmoid(w) with w a parameter (passed to the kernels as a tensor)
    sj_class: str  # spikingjelly.activation_based.neuron.<sj_class>
    sj_tau_kwarg: str | None  # the kwarg of sj_class that takes tau
    sj_functional: str  # spikingjelly.activation_based.functional.<sj_functional> (multi-step)

    def charge(self, v: torch.Tensor, x: torch.Tensor, decay, v_reset: float, decay_input: bool) -> torch.Tensor:
        """h from v and x as new tensors, in the CUDA kernel's operation order (so values match it bit for bit)."""
        if not self.leaky:
            return v + x
        leak = v if v_reset == 0.0 else v - v_reset
        if decay_input:
            return (x - leak) * decay + v
        return (v - leak * decay) + x


NEURON_KIND_TABLE: dict[str, NeuronKind] = {
    "if": NeuronKind("if", 0, False, False, "IFNode", None, "if_multi_step"),
    "lif": NeuronKind("lif", 1, True, False, "LIFNode", "tau", "lif_multi_step"),
    "plif": NeuronKind("plif", 2, True, True, "ParametricLIFNode", "init_tau", "plif_multi_step"),
}
NEURON_KINDS = tuple(NEURON_KIND_TABLE)


def get_neuron_kind(name: str) -> NeuronKind:
    """Look up a neuron kind by name; the error lists the valid names."""
    key = str(name).lower()
    if key not in NEURON_KIND_TABLE:
        close = difflib.get_close_matches(key, NEURON_KIND_TABLE, n=2)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"Unknown neuron kind {name!r}; choose one of {list(NEURON_KIND_TABLE)}.{hint}")
    return NEURON_KIND_TABLE[key]
