"""The static description of a multi-step neuron, shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass

NEURON_KINDS = ("if", "lif", "plif")


@dataclass(frozen=True)
class NeuronSpec:
    """Everything a kernel needs to know about a neuron except its tensors.

    Dynamics for one step t (v carried in fp32, h stored in the input dtype):
        IF:                  h = v + x
        LIF/PLIF decay_input: h = v + k * (x - (v - v_reset))
        LIF/PLIF otherwise:  h = v - k * (v - v_reset) + x
        s = (h >= v_threshold)
        hard reset: v = h * (1 - s) + v_reset * s;  soft reset (v_reset None): v = h - s * v_threshold
    with k = 1 / tau (LIF) or sigmoid(w) (PLIF); v_reset counts as 0 in the charge for soft reset.
    """

    kind: str
    v_threshold: float = 1.0
    v_reset: float | None = 0.0
    surrogate: str = "sigmoid"
    alpha: float = 4.0
    detach_reset: bool = False
    decay_input: bool = True
    k: float = 0.5  # 1 / tau for LIF; ignored for IF and PLIF (PLIF passes k as a tensor)

    @property
    def hard_reset(self) -> bool:
        return self.v_reset is not None

    @property
    def reset_value(self) -> float:
        return 0.0 if self.v_reset is None else float(self.v_reset)
