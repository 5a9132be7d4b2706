"""Hooks on every spiking neuron of a model, removable and usable as a context manager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn as nn

from .nodes import MultiStepNeuron


class NeuronHooks:
    """Registers ``hook`` on every :class:`MultiStepNeuron` in ``model``; ``remove()`` or leaving
    the ``with`` block takes them off again (idempotent)."""

    def __init__(self, model: nn.Module, hook: Callable, pre: bool = False):
        self.neurons = [m for m in model.modules() if isinstance(m, MultiStepNeuron)]
        register = (lambda m: m.register_forward_pre_hook(hook)) if pre else (lambda m: m.register_forward_hook(hook))
        self._handles = [register(m) for m in self.neurons]

    @property
    def active(self) -> bool:
        """True while the hooks are installed."""
        return bool(self._handles)

    def remove(self) -> None:
        """Remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()
