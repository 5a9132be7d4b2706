"""Spikingformer: Spikformer with membrane-shortcut (MS) residuals and spike-driven attention.

Zhou et al., "Spikingformer: Spike-driven Residual Learning for Transformer-based Spiking Neural
Network" (arXiv:2304.11954); official code zhouchenlin2096/Spikingformer.

Same blocks, widths and shapes as :mod:`spikformer` (whose pieces are reused with
``spike_first=True``): every conv is fed by a spiking neuron placed *before* it, so each conv
sees binary spikes (no non-spike multiplications), and the residual adds the BN outputs
(pre-activations) of the branches: x + BN(conv(spike(x))). The tokenizer has five conv3x3-BN
stages D/8, D/4, D/2, D, D (the fifth takes the place of Spikformer's RPE conv, without its
residual); the first conv sees pixels, so no neuron precedes it.

Parameter counts equal Spikformer's (the neurons moved, the convs did not): 8-384 16.81M,
8-512 29.68M, 8-768 66.34M, CIFAR 4-256 4.15M, 2-384 5.76M, 4-384 9.32M. As for Spikformer,
8-384 and 8-512 drop the redundant pre-BN biases of the residual-writing convs to reproduce the
published numbers (see :mod:`spikformer`); the others keep the official code's biases.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn

from ._builder import generate_snn_default_cfgs, register_snn_model, snn_cfg
from .spikformer import (
    CIFAR_CFG, CIFAR_POOLS, DIGITS_CFG, DIGITS_POOLS, IMAGENET_CFG, TRANSFORMER_CFG, Spikformer, StemUnit,
    _create as _create_spikformer,
)


class SpikingTokenizer(nn.Module):
    """Five spike -> [maxpool] -> conv3x3 -> BN stages of widths D/8, D/4, D/2, D, D.

    ``pool_stages`` uses Spikformer's indexing (a pool after stage i), so the same value gives the
    same token grid; here the pool sits at the start of stage i + 1, after its neuron.
    """

    def __init__(self, in_chans: int, embed_dim: int, make_neuron: Callable, pool_stages: Sequence[int]):
        super().__init__()
        chans = [in_chans, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim, embed_dim]
        self.stages = nn.Sequential(*[
            StemUnit(chans[i], chans[i + 1], make_neuron, pool=(i - 1) in pool_stages, spike_first=True, spike=i > 0)
            for i in range(5)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)


class Spikingformer(Spikformer):
    """Spikingformer-``depth``-``embed_dim``; arguments as :class:`Spikformer`.

    ``forward_features_seq`` returns the last block's pre-activations (not spikes), which the
    head averages over tokens, as the official code does.
    """

    spike_first = True

    def _make_stem(self, in_chans: int, embed_dim: int, pool_stages: tuple) -> nn.Module:
        return SpikingTokenizer(in_chans, embed_dim, self.make_neuron, pool_stages)


_PAPER = "arXiv:2304.11954"

default_cfgs = generate_snn_default_cfgs({
    **{f"spikingformer_8_{d}": snn_cfg(paper_ids=_PAPER, **IMAGENET_CFG, **TRANSFORMER_CFG) for d in (384, 512, 768)},
    **{f"spikingformer_{n}_cifar": snn_cfg(paper_ids=_PAPER, **CIFAR_CFG, **TRANSFORMER_CFG)
       for n in ("4_256", "2_384", "4_384")},
    "spikingformer_2_64_digits": snn_cfg(paper_ids=_PAPER, **DIGITS_CFG, **TRANSFORMER_CFG),
})


def _create(variant: str, pretrained: bool, arch: dict, **kwargs) -> Spikingformer:
    return _create_spikformer(variant, pretrained, arch, model_cls=Spikingformer, **kwargs)


@register_snn_model
def spikingformer_8_384(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-384, ImageNet (16.81M)."""
    arch = dict(embed_dim=384, depth=8, num_heads=8, proj_bias=False)  # see the module docstring
    return _create("spikingformer_8_384", pretrained, arch, **kwargs)


@register_snn_model
def spikingformer_8_512(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-512, ImageNet (29.68M)."""
    arch = dict(embed_dim=512, depth=8, num_heads=8, proj_bias=False)  # see the module docstring
    return _create("spikingformer_8_512", pretrained, arch, **kwargs)


@register_snn_model
def spikingformer_8_768(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-768, ImageNet (66.34M)."""
    return _create("spikingformer_8_768", pretrained, dict(embed_dim=768, depth=8, num_heads=8), **kwargs)


@register_snn_model
def spikingformer_4_256_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-4-256, CIFAR (4.15M at 10 classes; 8 heads of width 32)."""
    return _create("spikingformer_4_256_cifar", pretrained,
                   dict(embed_dim=256, depth=4, num_heads=8, pool_stages=CIFAR_POOLS), **kwargs)


@register_snn_model
def spikingformer_2_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-2-384, CIFAR (5.76M at 10 classes; 12 heads)."""
    return _create("spikingformer_2_384_cifar", pretrained,
                   dict(embed_dim=384, depth=2, num_heads=12, pool_stages=CIFAR_POOLS), **kwargs)


@register_snn_model
def spikingformer_4_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-4-384, CIFAR (9.32M at 10 classes; 12 heads)."""
    return _create("spikingformer_4_384_cifar", pretrained,
                   dict(embed_dim=384, depth=4, num_heads=12, pool_stages=CIFAR_POOLS), **kwargs)


@register_snn_model
def spikingformer_2_64_digits(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-2-64 for 8x8 one-channel digits (4x4 tokens, 4 heads)."""
    return _create("spikingformer_2_64_digits", pretrained,
                   dict(embed_dim=64, depth=2, num_heads=4, pool_stages=DIGITS_POOLS), **kwargs)
