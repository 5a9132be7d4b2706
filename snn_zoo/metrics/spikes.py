"""Spike counting on every spiking neuron layer of a model.

Built on spikingjelly 2.0's ``monitor.OutputMonitor`` restricted to our ``MultiStepNeuron``
modules: each hooked call records only ``(count_nonzero(spikes), shape)`` (no spike tensor is
kept), and the totals are folded on demand. Layers that are not ``MultiStepNeuron`` (ReLU in an
ANN twin, spikingjelly's own neurons, BN, ...) are never counted.

Definitions, per layer, accumulated over every recorded forward call:
    spikes             total number of emitted spikes (exact integer count)
    neurons            neurons of the layer per sample (product of the non-time, non-batch dims)
    time_steps         T of the last recorded call (1 for single-step calls)
    samples            number of samples that went through the layer
    firing_rate        spikes / (neurons * T * samples): the probability that a neuron fires
                       in one time step
    spikes_per_sample  spikes / samples
Model level: ``spikes_per_sample`` is the sum of the layers' spikes per sample, ``firing_rate``
the total spikes over the total neuron-time-steps, ``samples`` the largest layer sample count.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from spikingjelly.activation_based.monitor import OutputMonitor

from ..neurons.nodes import MultiStepNeuron

__all__ = ["SpikeCounter", "count_spikes"]


def _spike_record(output: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    # count_nonzero is exact in int64 (a float32 sum loses counts above 2^24) and stays on device.
    return torch.count_nonzero(output.detach()), tuple(output.shape)


class SpikeCounter:
    """Count spikes of every ``MultiStepNeuron`` in ``model`` while it runs.

    Use as a context manager (hooks are removed on exit, counts are kept)::

        with SpikeCounter(model) as counter:
            model(x)
        counter.summary()["spikes_per_sample"]

    Works in training and eval mode. A model without spiking neurons (``neuron='relu'``)
    reports no layers and zero spikes.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self._monitor = OutputMonitor(model, instance=MultiStepNeuron, function_on_output=_spike_record)
        self._modules = {name: module for name, module in model.named_modules() if isinstance(module, MultiStepNeuron)}
        self._totals: dict[str, dict[str, int]] = {}
        self.reset()

    @property
    def layer_names(self) -> list[str]:
        """Names of the counted neuron layers, in ``named_modules`` order."""
        return list(self._modules)

    def reset(self) -> None:
        """Forget every count (the hooks stay in place)."""
        self._monitor.clear_recorded_data()
        self._totals = {
            name: dict(spikes=0, neuron_steps=0, samples=0, neurons=0, time_steps=0) for name in self._modules
        }

    def _fold(self) -> None:
        """Move the monitor's pending records into the running totals."""
        for name, indices in self._monitor.name_records_index.items():
            module = self._modules[name]
            tot = self._totals[name]
            for i in indices:
                count, shape = self._monitor.records[i]
                if module.step_mode == "m":  # [T, B, ...]
                    T, B, rest = shape[0], shape[1], shape[2:]
                else:  # single step: [B, ...]
                    T, B, rest = 1, shape[0], shape[1:]
                neurons = 1
                for d in rest:
                    neurons *= int(d)
                tot["spikes"] += int(count)
                tot["neuron_steps"] += neurons * T * B
                tot["samples"] += B
                tot["neurons"] = neurons
                tot["time_steps"] = T
        self._monitor.clear_recorded_data()

    def summary(self) -> dict[str, Any]:
        """Per-layer and model-level counts (see the module docstring for the definitions)."""
        self._fold()
        layers = {}
        for name, tot in self._totals.items():
            if tot["samples"] == 0:
                continue
            layers[name] = dict(
                spikes=tot["spikes"],
                neurons=tot["neurons"],
                time_steps=tot["time_steps"],
                samples=tot["samples"],
                firing_rate=tot["spikes"] / tot["neuron_steps"],
                spikes_per_sample=tot["spikes"] / tot["samples"],
            )
        total_spikes = sum(v["spikes"] for v in layers.values())
        neuron_steps = sum(self._totals[n]["neuron_steps"] for n in layers)
        return dict(
            layers=layers,
            total_spikes=total_spikes,
            total_neurons=sum(v["neurons"] for v in layers.values()),
            samples=max((v["samples"] for v in layers.values()), default=0),
            spikes_per_sample=sum(v["spikes_per_sample"] for v in layers.values()),
            firing_rate=total_spikes / neuron_steps if neuron_steps else 0.0,
        )

    def close(self) -> None:
        """Remove the hooks; the counts recorded so far stay available."""
        self._fold()
        self._monitor.close()

    def __enter__(self) -> SpikeCounter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@torch.no_grad()
def count_spikes(model: nn.Module, inputs: torch.Tensor, batch_size: int | None = None) -> dict[str, Any]:
    """Run ``model`` on ``inputs`` (in its current train/eval mode) and return the spike summary.

    ``batch_size`` splits ``inputs`` along dim 0 (so it must be batch-first, e.g. static images
    [B, C, H, W]); ``None`` runs everything in one call.
    """
    with SpikeCounter(model) as counter:
        bs = batch_size or inputs.shape[0]
        for i in range(0, inputs.shape[0], bs):
            model(inputs[i : i + bs])
    return counter.summary()
