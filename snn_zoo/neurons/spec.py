"""The static description of a multi-step neuron, shared by every backend."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .kinds import NEURON_KINDS  # noqa: F401  (the NeuronKind table; re-exported)


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


# -- validation of the settings (constructors of the neurons and of every model call these) ------------
#: The explicit spelling of a soft reset. ``None`` means the same in snn_zoo, but ``timm.create_model``
#: drops every None kwarg (so ``v_reset=None`` would silently give the default hard reset there).
SOFT_RESET = "soft"


def check_number(name: str, value, why: str = "") -> float:
    """``value`` as a finite float; refuses bools, strings, NaN and inf by name (before any model is built)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__}).{why}")
    if not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number, got {value!r}: a non-finite setting builds neurons that never fire "
            f"(or never again after one spike)."
        )
    return float(value)


def check_bool(name: str, value) -> bool:
    """``value`` as a bool; only True / False (numpy bools too): ``bool("no")`` is True, so strings are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{name} must be True or False, got {value!r} ({type(value).__name__}); pass a boolean "
            f"(JSON true / false), not a string or a number."
        )
    return bool(value)


def check_v_reset(v_reset) -> float | None:
    """``v_reset`` as the neuron holds it: a finite float (hard reset) or None (soft reset, also spelled 'soft')."""
    if v_reset is None or (isinstance(v_reset, str) and v_reset == SOFT_RESET):
        return None
    if isinstance(v_reset, str):
        raise ValueError(f"v_reset must be a number (hard reset) or {SOFT_RESET!r} (soft reset), got {v_reset!r}.")
    return check_number("v_reset", v_reset, f" Use {SOFT_RESET!r} for a soft reset.")


def check_neuron_settings(
    v_threshold=1.0,
    v_reset=0.0,
    tau=2.0,
    alpha=None,
    detach_reset=False,
    decay_input=True,
    leaky: bool = True,
    v_init=0.0,
) -> dict:
    """Check every numeric / boolean neuron setting; returns them normalised (floats, bools, v_reset None for soft).

    Meaningless values are refused by name: v_threshold <= 0 (fires at rest), v_reset >= v_threshold,
    v_init outside [0, v_threshold) (the potential after ``reset_net``; at or above the threshold it fires with no
    input), tau <= 1 for leaky neurons (decay 1 / tau outside (0, 1)), alpha <= 0, non-finite numbers, and strings
    for booleans. ``leaky=False`` (IF) skips tau and decay_input, which IF neurons do not have.
    """
    out = dict(
        v_threshold=check_number("v_threshold", v_threshold),
        v_reset=check_v_reset(v_reset),
        detach_reset=check_bool("detach_reset", detach_reset),
        v_init=check_number("v_init", v_init),
    )
    if not out["v_threshold"] > 0:
        raise ValueError(
            f"v_threshold must be a number > 0, got {v_threshold!r} (a neuron with a threshold <= 0 fires at rest)."
        )
    if out["v_reset"] is not None and not out["v_reset"] < out["v_threshold"]:
        raise ValueError(
            f"v_reset must be below v_threshold ({v_threshold}) or {SOFT_RESET!r} (soft reset), got {v_reset!r}."
        )
    if not 0.0 <= out["v_init"] < out["v_threshold"]:
        raise ValueError(
            f"v_init (the membrane potential after reset_net) must lie in [0, v_threshold={v_threshold}), got "
            f"{v_init!r}; at or above the threshold a neuron fires with no input."
        )
    if alpha is not None:
        out["alpha"] = check_number("alpha (surrogate sharpness)", alpha)
        if not out["alpha"] > 0:
            raise ValueError(f"alpha (surrogate sharpness) must be > 0, got {alpha!r}.")
    if leaky:
        out["tau"] = check_tau(tau)
        out["decay_input"] = check_bool("decay_input", decay_input)
    return out


def check_tau(tau) -> float:
    """The time constant of a leaky neuron as a float > 1 (its decay 1 / tau lies in (0, 1))."""
    value = check_number("tau", tau)
    if not value > 1:
        raise ValueError(f"tau must be > 1 for leaky neurons (decay 1/tau), got {tau!r}.")
    return value
