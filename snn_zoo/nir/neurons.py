"""Our discrete-time neurons <-> NIR's continuous-time IF / LIF: the mapping, written once.

snn_zoo (spikingjelly's convention) updates a neuron once per time step::

    IF:                   h[t] = v[t-1] + x[t]
    LIF, decay_input:     h[t] = v[t-1] + (x[t] - (v[t-1] - v_reset)) / tau
    LIF, not decay_input: h[t] = v[t-1] - (v[t-1] - v_reset) / tau + x[t]
    spike                 s[t] = h[t] >= v_threshold
    hard reset            v[t] = v_reset if s[t] else h[t]

NIR 1.0 describes neurons in continuous time::

    IF:   dv/dt = r * I
    LIF:  tau_nir * dv/dt = (v_leak - v) + r * I
    spike when v > v_threshold, then v <- v_reset

One forward-Euler step of length ``dt`` of the NIR LIF is
``v <- v + (dt / tau_nir) * ((v_leak - v) + r * I)``. Matching it term by term with the updates above:

* LIF, decay_input=True:  ``dt / tau_nir = 1 / tau``  -> ``tau_nir = tau * dt``, ``r = 1``, ``v_leak = v_reset``.
* LIF, decay_input=False: the input enters undivided, so ``(dt / tau_nir) * r = 1`` -> ``r = tau``
  (same ``tau_nir`` and ``v_leak``).
* IF: ``v <- v + dt * r * I`` -> ``r = 1 / dt``.
* PLIF learns ``1 / tau = sigmoid(w)``; it exports as a LIF with that tau (the value after training).

``dt`` is :data:`NIR_DT` = 1e-4 s, the step spikingjelly's NIR exporter uses and snntorch's importer
hard-codes, so their graphs and ours mean the same thing; it is written into the graph's metadata.

Threshold convention: we fire on ``h >= v_threshold``, NIR on ``v > v_threshold``. The two differ only
when the membrane lands exactly on the threshold. We export ``v_threshold`` as the largest float32
below ours (``nextafter(v_threshold, -inf)``), so for float32 membranes NIR's ``>`` fires on exactly
the same steps as our ``>=``, and import adds the ulp back (round trip exact). A simulator that
computes the membrane in another order (e.g. snntorch scales it by tau) can still differ from us by a
float rounding near the threshold; that is the only source of spike differences in the peer tests.

Soft reset (subtract the threshold) has no NIR 1.0 equivalent (NIR PR #63): :func:`neuron_to_nir`
refuses it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..neurons import IFNode, LIFNode, MultiStepNeuron, PLIFNode

NIR_DT = 1e-4  # seconds per time step: spikingjelly's exporter and snntorch's importer use the same value


class NIRConversionError(ValueError):
    """A module or NIR node has no faithful counterpart on the other side; the message names it and why."""


def require_nir():
    """(nir, nirtorch), or an ImportError that says how to install them."""
    try:
        import nir
        import nirtorch
    except ImportError as error:
        raise ImportError('NIR export / import needs nir and nirtorch: pip install "snn_zoo[nir]"') from error
    return nir, nirtorch


def threshold_to_nir(v_threshold: float) -> float:
    """Our ``h >= th`` as NIR's ``v > th'``: the largest float32 below ``th``."""
    return float(np.nextafter(np.float32(v_threshold), np.float32(-np.inf)))


def threshold_from_nir(v_threshold: float) -> float:
    """NIR's ``v > th`` as our ``h >= th'``: the smallest float32 above ``th`` (inverse of :func:`threshold_to_nir`)."""
    return float(np.nextafter(np.float32(v_threshold), np.float32(np.inf)))


def _full(shape: tuple[int, ...], value: float) -> np.ndarray:
    # float64: tau * dt and back must give our float32 decay exactly (round trip).
    return np.full(shape, value, dtype=np.float64)


def neuron_to_nir(module: nn.Module, shape: tuple[int, ...], dt: float = NIR_DT, name: str = ""):
    """``nir.IF`` / ``nir.LIF`` for one of our neurons acting on per-sample ``shape``."""
    import nir

    label = f"{name} ({type(module).__name__})" if name else type(module).__name__
    if not isinstance(module, (IFNode, LIFNode, PLIFNode)):
        raise NIRConversionError(f"{label}: not an IF / LIF / PLIF neuron; NIR export knows only these.")
    if module.v_reset is None:
        raise NIRConversionError(
            f"{label}: soft reset (v_reset=None subtracts the threshold) has no NIR 1.0 equivalent, which only "
            f"resets to a value; build the model with v_reset=0.0 (hard reset) to export it."
        )
    if module.v_init != 0.0:
        raise NIRConversionError(
            f"{label}: v_init={module.v_init} (the potential after reset) has no NIR 1.0 equivalent, whose neurons "
            f"start at rest; build the model with v_init=0.0 to export it."
        )
    v_reset = _full(shape, module.v_reset)
    v_threshold = _full(shape, threshold_to_nir(module.v_threshold))
    if isinstance(module, IFNode):
        return nir.IF(r=_full(shape, 1.0 / dt), v_threshold=v_threshold, v_reset=v_reset)
    tau = float(module._tau())  # LIF: its tau; PLIF: 1 / sigmoid(w), the learned value
    r = 1.0 if module.decay_input else tau
    return nir.LIF(
        tau=_full(shape, tau * dt),
        r=_full(shape, r),
        v_leak=_full(shape, module.v_reset),
        v_threshold=v_threshold,
        v_reset=v_reset,
    )


class ThresholdUnit(nn.Module):
    """A memoryless spiking unit: ``s = x > threshold`` at every step (multi-step, [T, ...] in and out).

    Exported as a NIR LIF with ``tau = dt`` (full leak each step, ``r = 1``, no memory left): max pooling of
    binary spikes is a window sum followed by this unit, and a NIR LIF whose tau equals one step imports
    back as this unit.
    """

    def __init__(self, threshold: float, scale: float = 1.0):
        super().__init__()
        self.threshold = float(threshold)  # NIR convention: fires on > threshold
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale > self.threshold).to(x.dtype)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, scale={self.scale}"


def threshold_unit_to_nir(module: ThresholdUnit, shape: tuple[int, ...], dt: float = NIR_DT):
    import nir

    return nir.LIF(
        tau=_full(shape, dt),
        r=_full(shape, module.scale),
        v_leak=_full(shape, 0.0),
        v_threshold=_full(shape, module.threshold),
        v_reset=_full(shape, 0.0),
    )


class InputScale(nn.Module):
    """``x * r`` in front of a neuron whose NIR ``r`` is not what our update implies (foreign graphs)."""

    def __init__(self, r: float):
        super().__init__()
        self.r = float(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.r

    def extra_repr(self) -> str:
        return f"r={self.r}"


def _uniform(node, field: str, name: str) -> float:
    values = np.unique(np.asarray(getattr(node, field), dtype=np.float64))
    if values.size != 1:
        raise NIRConversionError(
            f"NIR node {name!r} ({type(node).__name__}): {field} differs between neurons ({values.size} values); "
            f"snn_zoo neurons take one value per layer."
        )
    return float(values[0])


def neuron_from_nir(node, dt: float = NIR_DT, name: str = "") -> nn.Module:
    """Our multi-step module for a NIR ``IF`` / ``LIF`` node (inverse of :func:`neuron_to_nir`).

    A LIF whose tau equals ``dt`` (full leak each step) becomes a :class:`ThresholdUnit`; a LIF or IF whose
    ``r`` is not the one our update implies gets an :class:`InputScale` in front.
    """
    import nir

    v_threshold = threshold_from_nir(_uniform(node, "v_threshold", name))
    v_reset = _uniform(node, "v_reset", name)
    common = dict(v_threshold=v_threshold, v_reset=v_reset, backend="torch")
    r = _uniform(node, "r", name)
    if isinstance(node, nir.IF):
        neuron: MultiStepNeuron = IFNode(**common)
        scale = r * dt
        return neuron if scale == 1.0 else nn.Sequential(InputScale(scale), neuron)
    if not isinstance(node, nir.LIF):
        raise NIRConversionError(f"NIR node {name!r}: {type(node).__name__} is not a neuron snn_zoo imports.")
    tau = _uniform(node, "tau", name) / dt
    v_leak = _uniform(node, "v_leak", name)
    if np.isclose(tau, 1.0, rtol=1e-6):  # dv = (v_leak - v) + r * I: the membrane is r * I + v_leak each step
        if v_reset != 0.0 or v_leak != 0.0:
            raise NIRConversionError(
                f"NIR node {name!r}: a LIF with tau = dt and v_leak={v_leak}, v_reset={v_reset} is not supported."
            )
        return ThresholdUnit(_uniform(node, "v_threshold", name), scale=r)
    if v_leak != v_reset:
        raise NIRConversionError(
            f"NIR node {name!r}: v_leak={v_leak} differs from v_reset={v_reset}; snn_zoo's LIF leaks towards "
            f"its reset value."
        )
    if tau <= 1.0:
        raise NIRConversionError(f"NIR node {name!r}: tau = {tau:g} steps of dt={dt}; a LIF needs tau > dt.")
    if np.isclose(r, tau, rtol=1e-6) and r != 1.0:  # input enters undivided: decay_input=False
        return LIFNode(tau=tau, decay_input=False, **common)
    neuron = LIFNode(tau=tau, decay_input=True, **common)
    return neuron if r == 1.0 else nn.Sequential(InputScale(r), neuron)
