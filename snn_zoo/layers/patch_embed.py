"""The conv -> BN -> spike [-> max-pool] unit from which the spiking transformers build their
tokenizers (Spikformer's SPS, Spikingformer's tokenizer, the Spike-driven Transformer's stem,
QKFormer's patch embeddings)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from . import ConvBnSpike, MaxPool2d

__all__ = ["ResidualStemUnit", "StemUnit"]


class StemUnit(ConvBnSpike):
    """One tokenizer stage: conv3x3 -> BN -> spike -> [maxpool 3x3/2], or with ``spike_first``
    spike -> [maxpool] -> conv3x3 -> BN (Spikingformer's membrane-shortcut order). ``spike=False``
    drops the neuron (a first spike-first stage sees analog pixels).

    ``pool_after_bn``: the max-pool sits right after BN, before the spiking neuron: conv -> BN ->
    maxpool -> spike (QKFormer; the CML tokenizer of BKDSNN's students,
    Intelligent-Computing-Research-Group/BKDSNN ``Spikingformer-CML``), or spike -> conv -> BN ->
    maxpool with ``spike_first``. Pooling membrane inputs is not pooling spikes (the neuron
    integrates over time), so the two orders differ.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        make_neuron: Callable,
        pool: bool = False,
        spike_first: bool = False,
        spike: bool = True,
        pool_after_bn: bool = False,
    ):
        super().__init__(in_chs, out_chs, make_neuron, kernel_size=3)
        if not spike:
            self.sn = nn.Identity()
        self.pool = MaxPool2d(3, stride=2, padding=1) if pool else nn.Identity()
        self.spike_first = spike_first
        self.pool_after_bn = pool_after_bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spike_first and self.pool_after_bn:
            return self.pool(self.bn(self.conv(self.sn(x))))
        if self.spike_first:
            return self.bn(self.conv(self.pool(self.sn(x))))
        if self.pool_after_bn:
            return self.sn(self.pool(self.bn(self.conv(x))))
        return self.pool(self.sn(self.bn(self.conv(x))))


class ResidualStemUnit(StemUnit):
    """``x + StemUnit(x)``: Spikformer's relative position embedding (RPE), conv3x3 -> BN -> spike
    added to its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)
