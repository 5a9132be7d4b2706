"""Spiking neurons: IF, LIF, PLIF multi-step modules with torch and cupy kernels."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable

import torch.nn as nn

from .backend import BACKENDS, cupy_available, resolve_backend, validate_backend
from .kinds import NEURON_KIND_TABLE, NEURON_KINDS, NeuronKind, get_neuron_kind
from .nodes import IFNode, LIFNode, MultiStepNeuron, PLIFNode
from .spec import NeuronSpec
from .surrogates import SURROGATES, get_surrogate

NEURONS = {cls.kind: cls for cls in (IFNode, LIFNode, PLIFNode)}
NEURON_CHOICES = (*NEURONS, "relu")


def validate_neuron(neuron: str) -> str:
    """Return the neuron name or raise listing the valid ones."""
    if neuron not in NEURON_CHOICES:
        close = difflib.get_close_matches(str(neuron), NEURON_CHOICES, n=2)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"Unknown neuron {neuron!r}; choose one of {list(NEURON_CHOICES)}.{hint}")
    return neuron


def create_neuron(
    neuron: str = "lif",
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate: str = "sigmoid",
    alpha: float | None = None,
    detach_reset: bool = False,
    decay_input: bool = True,
    backend: str = "auto",
    v_init: float = 0.0,
) -> nn.Module:
    """Build one neuron module; ``neuron="relu"`` gives the ANN twin's activation."""
    validate_neuron(neuron)
    get_surrogate(surrogate)
    validate_backend(backend)
    if neuron == "relu":
        return nn.ReLU()
    common = dict(
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate=surrogate,
        alpha=alpha,
        detach_reset=detach_reset,
        backend=backend,
        v_init=v_init,
    )
    if get_neuron_kind(neuron).leaky:
        common.update(tau=tau, decay_input=decay_input)
    return NEURONS[neuron](**common)


def neuron_factory(**kwargs) -> Callable[..., nn.Module]:
    """Validate neuron settings once and return ``make(**overrides) -> nn.Module``."""
    create_neuron(**kwargs)  # fail fast on bad names
    return functools.partial(create_neuron, **kwargs)


__all__ = [
    "BACKENDS",
    "NEURONS",
    "NEURON_CHOICES",
    "NEURON_KINDS",
    "NEURON_KIND_TABLE",
    "SURROGATES",
    "IFNode",
    "LIFNode",
    "MultiStepNeuron",
    "NeuronKind",
    "NeuronSpec",
    "PLIFNode",
    "create_neuron",
    "cupy_available",
    "get_neuron_kind",
    "get_surrogate",
    "neuron_factory",
    "resolve_backend",
    "validate_backend",
    "validate_neuron",
]
