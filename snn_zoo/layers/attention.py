"""Attention pieces shared by the spiking transformers: head split / merge, the fixed scale and
threshold of spike-based attention, and Spikformer's spiking self-attention (SSA).

SSA is used as published by Spikformer (Zhou et al., arXiv:2209.15425), by Spikingformer
(arXiv:2304.11954, spike-first ordering) and in QKFormer's last stage (arXiv:2403.16552).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from . import BatchNorm1d, Conv1d

__all__ = ["ATTN_SCALE", "ATTN_THRESHOLD", "SpikingSelfAttention", "merge_heads", "split_heads"]

ATTN_SCALE = 0.125  # fixed in Spikformer and its successors: spikes are not normalised by sqrt(d)
ATTN_THRESHOLD = 0.5  # the attention-output neuron fires at half the usual threshold (official value)


def split_heads(tokens: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[T, B, D, N] -> [T, B, heads, N, D / heads] (head h holds channels h*D/heads ...)."""
    T, B, D, N = tokens.shape
    return tokens.transpose(-1, -2).reshape(T, B, N, num_heads, D // num_heads).transpose(2, 3)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[T, B, heads, N, D / heads] -> [T, B, D, N], the inverse of :func:`split_heads`."""
    return x.transpose(3, 4).flatten(2, 3)


class SpikingSelfAttention(nn.Module):
    """SSA on a token map [T, B, D, H, W].

    q, k, v = spike(BN(conv1x1(x))); per head x = q k^T v * 0.125; spike with threshold 0.5;
    then BN(conv1x1). ``spike_first=False`` (Spikformer): input is spikes, output is spiked by
    ``proj_sn``. ``spike_first=True`` (Spikingformer): ``input_sn`` spikes the incoming
    pre-activations and the output stays a pre-activation (membrane shortcut). The 1x1 convs are
    Conv1d on the flattened tokens, as in the official code.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        make_neuron: Callable,
        qkv_bias: bool = False,
        proj_bias: bool = True,
        spike_first: bool = False,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} must be divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        self.input_sn = make_neuron() if spike_first else nn.Identity()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", Conv1d(dim, dim, 1, bias=qkv_bias))
            setattr(self, f"{name}_bn", BatchNorm1d(dim))
            setattr(self, f"{name}_sn", make_neuron())
        self.attn_sn = make_neuron(v_threshold=ATTN_THRESHOLD)
        self.proj_conv = Conv1d(dim, dim, 1, bias=proj_bias)
        self.proj_bn = BatchNorm1d(dim)
        self.proj_sn = nn.Identity() if spike_first else make_neuron()

    def _heads(self, tokens: torch.Tensor, name: str) -> torch.Tensor:
        """[T, B, D, N] -> spikes per head [T, B, heads, N, D / heads]."""
        s = getattr(self, f"{name}_sn")(getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(tokens)))
        return split_heads(s, self.num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.input_sn(x).flatten(3)
        q, k, v = (self._heads(tokens, n) for n in ("q", "k", "v"))
        # No softmax, so the product is associative; with spike inputs both orders give the same
        # integer sums, and the order only sets the cost (N^2 d versus N d^2).
        out = q @ (k.transpose(-2, -1) @ v) if q.shape[-2] > q.shape[-1] else (q @ k.transpose(-2, -1)) @ v
        out = merge_heads(out * ATTN_SCALE)
        out = self.proj_sn(self.proj_bn(self.proj_conv(self.attn_sn(out))))
        return out.reshape(x.shape)
