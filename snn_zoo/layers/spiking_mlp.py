"""The spiking transformers' MLP and their residual block (attention branch + MLP branch)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from . import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d

__all__ = ["SpikingMlp", "SpikingTransformerBlock"]


class SpikingMlp(nn.Module):
    """Two 1x1 conv -> BN layers with a spike each on [T, B, D, H, W]: after BN (Spikformer, QKFormer)
    or before the conv (``spike_first``: Spikingformer, Spike-driven Transformer, Meta-SpikeFormer,
    whose branches output pre-activations). Returns the branch only; the block adds the shortcut.

    ``token_conv``: Conv1d / BatchNorm1d on the flattened tokens (Meta-SpikeFormer's official layout,
    weights [out, in, 1]) instead of Conv2d / BatchNorm2d on the map (weights [out, in, 1, 1]).
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int,
        make_neuron: Callable,
        out_bias: bool = True,
        spike_first: bool = False,
        token_conv: bool = False,
    ):
        super().__init__()
        conv, norm = (Conv1d, BatchNorm1d) if token_conv else (Conv2d, BatchNorm2d)
        self.fc1_conv = conv(dim, hidden_dim, 1)  # the hidden conv keeps its bias in every family
        self.fc1_bn = norm(hidden_dim)
        self.fc1_sn = make_neuron()
        self.fc2_conv = conv(hidden_dim, dim, 1, bias=out_bias)
        self.fc2_bn = norm(dim)
        self.fc2_sn = make_neuron()
        self.spike_first = spike_first
        self.token_conv = token_conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(3) if self.token_conv else x
        if self.spike_first:
            h = self.fc1_bn(self.fc1_conv(self.fc1_sn(h)))
            h = self.fc2_bn(self.fc2_conv(self.fc2_sn(h)))
        else:
            h = self.fc1_sn(self.fc1_bn(self.fc1_conv(h)))
            h = self.fc2_sn(self.fc2_bn(self.fc2_conv(h)))
        return h.reshape(x.shape)


class SpikingTransformerBlock(nn.Module):
    """``x + attn(x)``, then ``x + mlp(x)``: the block of every spiking transformer in the zoo (no norm
    layers; BN sits inside the branches). ``attn`` and ``mlp`` are the family's branch modules."""

    def __init__(self, attn: nn.Module, mlp: nn.Module):
        super().__init__()
        self.attn = attn
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)
