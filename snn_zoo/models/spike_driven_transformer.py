"""Spike-driven Transformer (v1): spike-driven self-attention (SDSA) with membrane-shortcut blocks.

Yao et al., "Spike-driven Transformer" (NeurIPS 2023, arXiv:2307.01694). Structure follows the
official code (BICLab/Spike-Driven-Transformer, ``module/sps.py``, ``module/ms_conv.py``,
``model/spikeformer.py``):

* Stem (SPS): conv3x3-BN-spike stages of widths D/8, D/4, D/2 (each optionally followed by a 2x
  max-pool on the spikes), a fourth conv3x3-BN of width D (optionally max-pooled), then the
  relative position embedding ``x + BN(conv3x3(spike(x)))``. The stem outputs pre-activations.
* Blocks use membrane shortcuts (the neuron sits before each conv, the residual adds BN outputs):
  SDSA: s = spike(x); q, k, v = spike(BN(conv1x1(s))); per head kv = spike_0.5(sum_tokens(k * v))
  (one binary gate per channel), out = q * kv, then BN(conv1x1(out)); ``x + out``.
  MLP: ``x + BN(conv1x1(spike(BN(conv1x1(spike(x))))))`` (ratio 4).
  Every product inside SDSA is between binary tensors (a mask), and the token sum is a sum of
  spikes: additions only.
* Head: mean over tokens -> spike -> Linear, averaged over time.

The official attention builds a ``talking_heads`` Conv1d (heads x heads weights) and never uses it;
we do not build it (its weights are dropped when porting). Parameter counts (1000 classes) equal
the official model's without those 64-per-block weights: 8-384 16.82M, 6-512 23.37M, 8-512 29.69M,
10-512 36.01M, 8-768 66.34M (paper: 16.81 / 23.37 / 29.68 / 36.01 / 66.34M); CIFAR 2-512 10.28M at
100 classes (10.23M with 10).

The MLP and the block are the shared ones of :mod:`snn_zoo.layers` (``spike_first``). Feature levels:
the stem (one level: its RPE layers keep the official names on the stem itself), then one per block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers import BatchNorm2d, Conv2d
from ..layers.attention import ATTN_THRESHOLD, merge_heads, split_heads
from ..layers.patch_embed import StemUnit
from ..layers.spiking_mlp import SpikingMlp, SpikingTransformerBlock
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, merge_model_args, register_snn_model, snn_cfg
from ._ported import port_state_dict, ported_cfg

__all__ = ["SpikeDrivenTransformer", "checkpoint_filter_fn"]


class SdtStem(nn.Module):
    """SPS of the Spike-driven Transformer; ``pooling`` is the official ``pooling_stat`` ('1111').

    Stages 0-2: conv3x3 -> BN -> spike -> [max-pool] (pooling spikes); stage 3: conv3x3 -> BN ->
    [max-pool] (pooling the pre-activation), then ``x + BN(conv3x3(spike(x)))``.
    """

    def __init__(self, in_chans: int, embed_dim: int, make_neuron: Callable, pooling: str = "1111"):
        super().__init__()
        if len(pooling) != 4 or set(pooling) - {"0", "1"}:
            raise ValueError(f"pooling must be four '0'/'1' characters (one per stem stage), got {pooling!r}.")
        chans = [in_chans, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        # A StemUnit without a neuron that pools right after BN: the fourth stage's order.
        self.stages = nn.Sequential(
            *[
                StemUnit(chans[i], chans[i + 1], make_neuron, pool=pooling[i] == "1", spike=i < 3, pool_after_bn=i == 3)
                for i in range(4)
            ]
        )
        self.rpe_sn = make_neuron()
        self.rpe_conv = Conv2d(embed_dim, embed_dim, 3, padding=1, bias=False)
        self.rpe_bn = BatchNorm2d(embed_dim)
        self.reduction = 2 ** pooling.count("1")

    def feature_levels(self, prefix: str) -> list[dict]:
        """The whole stem is one feature level: its RPE layers sit on the stem itself (the official
        key names ``patch_embed.rpe_*``), so no module ends at an earlier stage's output plus RPE."""
        return [dict(num_chs=self.rpe_conv.out_channels, reduction=self.reduction, module=prefix)]

    def feature_stages(self) -> list:
        return [[self]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)
        return x + self.rpe_bn(self.rpe_conv(self.rpe_sn(x)))


class SpikeDrivenSelfAttention(nn.Module):
    """SDSA (membrane shortcut) on [T, B, D, H, W]; returns the branch ``BN(conv1x1(q * kv))`` (the
    block adds it to ``x``)."""

    def __init__(self, dim: int, num_heads: int, make_neuron: Callable):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} must be divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        self.input_sn = make_neuron()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", Conv2d(dim, dim, 1, bias=False))
            setattr(self, f"{name}_bn", BatchNorm2d(dim))
            setattr(self, f"{name}_sn", make_neuron())
        self.kv_sn = make_neuron(v_threshold=ATTN_THRESHOLD)
        self.proj_conv = Conv2d(dim, dim, 1)
        self.proj_bn = BatchNorm2d(dim)

    def _heads(self, s: torch.Tensor, name: str) -> torch.Tensor:
        """[T, B, D, H, W] -> spikes [T, B, heads, N, D / heads]."""
        s = getattr(self, f"{name}_sn")(getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(s)))
        return split_heads(s.flatten(3), self.num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.input_sn(x)
        q, k, v = (self._heads(s, n) for n in ("q", "k", "v"))
        kv = self.kv_sn((k * v).sum(dim=-2, keepdim=True))  # mask, then a sum of spikes over tokens
        out = merge_heads(q * kv).reshape(x.shape)  # mask: a channel passes where kv fired
        return self.proj_bn(self.proj_conv(out))


class SpikeDrivenTransformer(SpikingModel):
    """Spike-driven Transformer-``depth``-``embed_dim``.

    Args:
        embed_dim: token width D (divisible by 8 and by ``num_heads``).
        depth: number of blocks.
        num_heads: SDSA heads.
        mlp_ratio: MLP hidden width / D.
        pooling: official ``pooling_stat``: which of the four stem stages halve the grid
            ('1111' ImageNet, 224 -> 14x14 tokens; '0011' CIFAR, 32 -> 8x8).
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.
    """

    classifier_name = "head"
    default_out_indices = 3  # features_only: the last 3 levels (the last blocks, as timm's ViTs)

    def __init__(
        self,
        embed_dim: int = 384,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        pooling: str = "1111",
        in_chans: int = 3,
        num_classes: int = 1000,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        if embed_dim % 8:
            raise ValueError(f"embed_dim must be divisible by 8 (stem widths D/8..D), got {embed_dim}.")
        self.embed_dim = embed_dim
        self.patch_embed = SdtStem(in_chans, embed_dim, self.make_neuron, pooling)
        mk = self.make_neuron
        # Membrane shortcuts: each branch starts with a neuron and ends in BN; the block adds them.
        self.blocks = nn.Sequential(
            *[
                SpikingTransformerBlock(
                    SpikeDrivenSelfAttention(embed_dim, num_heads, mk),
                    SpikingMlp(embed_dim, int(embed_dim * mlp_ratio), mk, spike_first=True),
                )
                for _ in range(depth)
            ]
        )
        self.feature_info = self.patch_embed.feature_levels("patch_embed") + [
            dict(num_chs=embed_dim, reduction=self.patch_embed.reduction, module=f"blocks.{i}") for i in range(depth)
        ]
        self.num_features = self.head_hidden_size = embed_dim
        self.head_sn = self.make_neuron()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        """Official init: trunc_normal(0.02) 2-D convs with zero bias; Linear keeps torch's default."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def feature_stages(self) -> list:
        """The stem, then one stage per block (timm's ViT convention). Features are pre-activation
        token maps [T, B, D, H', W']."""
        return self.patch_embed.feature_stages() + [[block] for block in self.blocks]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_sn(x_seq.mean(dim=(-2, -1)))  # spikes over time of the token-averaged map
        return x if pre_logits else self.head(x)


# -- official checkpoints --------------------------------------------------------------------------
_RULES = [
    (r"^patch_embed\.proj_(conv|bn)\.", r"patch_embed.stages.0.\1."),
    (r"^patch_embed\.proj_(conv|bn)([123])\.", r"patch_embed.stages.\2.\1."),
    (r"^block\.", "blocks."),
]
_TRAINING_ONLY = [r"\.attn\.talking_heads\.weight$"]  # built by the official code, never used in forward


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: SpikeDrivenTransformer) -> dict[str, torch.Tensor]:
    """Map an official Spike-driven Transformer state dict onto :class:`SpikeDrivenTransformer`.

    Official layout: ``patch_embed.proj_{conv,bn}{,1,2,3}`` and ``rpe_{conv,bn}``;
    ``block.N.attn.{q,k,v,proj}_{conv,bn}`` (+ an unused ``talking_heads`` Conv1d, dropped);
    ``block.N.mlp.fc{1,2}_{conv,bn}``; ``head``. Keys already in our layout pass through.
    """
    return port_state_dict(state_dict, model, _RULES, _TRAINING_ONLY)


# -- registry --------------------------------------------------------------------------------------
_PAPER = "arXiv:2307.01694"
_CFG = dict(first_conv="patch_embed.stages.0.conv", classifier="head", paper_ids=_PAPER, license="apache-2.0")
_IMAGENET = dict(crop_pct=0.95, interpolation="bicubic", **_CFG)  # official configs: crop_pct 0.95, bicubic
_CIFAR = dict(
    num_classes=10,
    input_size=(3, 32, 32),
    mean=CIFAR10_MEAN,
    std=CIFAR10_STD,
    crop_pct=1.0,
    interpolation="bicubic",
    **_CFG,
)
_OFFICIAL_SNN = dict(T=4, neuron="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=True, surrogate="sigmoid")
_SDT_PORT = dict(
    repo="BICLab/Spike-Driven-Transformer",
    source_license="Apache-2.0",
    snn_args=_OFFICIAL_SNN,
    dataset="ImageNet-1k",
    reported_in="Spike-Driven-Transformer README, ImageNet table (T=4)",
)
# 'arch' -> (reported top-1, Google Drive file id of the README's download link)
_RELEASES = {
    "spike_driven_transformer_8_384": (72.28, "10oH_zkwB4FDtFLgmZ_lI8e0tFjRzrXyD"),
    "spike_driven_transformer_6_512": (74.11, "1hsShpFBKYpMK2TmpuoyBFORcLAuMHrx7"),
    "spike_driven_transformer_8_512": (74.57, "1n59WNSBgP2VyAW2nfJX2Wvx5rgNJEMXI"),
    "spike_driven_transformer_10_512": (74.66, "1l-c3QY5r4IFmYUmGPZXRHP_W7iC1sdP8"),
    "spike_driven_transformer_8_768": (77.07, "1R-MaeFV8d2Y0pIGBSjklOGWhaF8dLHf4"),
}

default_cfgs = generate_snn_default_cfgs(
    {
        **{
            f"{arch}.official_in1k": ported_cfg(
                f"{arch}.official_in1k",
                top1=top1,
                origin_url=f"https://drive.google.com/file/d/{file_id}/view",
                **_SDT_PORT,
                **_IMAGENET,
            )
            for arch, (top1, file_id) in _RELEASES.items()
        },
        "spike_driven_transformer_2_256_cifar": snn_cfg(**_CIFAR),
        "spike_driven_transformer_2_512_cifar": snn_cfg(**_CIFAR),
    }
)


def _create(variant: str, pretrained: bool, model_args: dict[str, Any], **kwargs) -> SpikeDrivenTransformer:
    """Build ``variant``; user kwargs win (timm style) except ``pooling``, which fixes the token grid
    the variant's cfg describes."""
    kwargs = merge_model_args(variant, model_args, kwargs, fixed=("pooling",))
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(
        SpikeDrivenTransformer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs
    )


@register_snn_model
def spike_driven_transformer_8_384(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-384, ImageNet (16.81M)."""
    return _create("spike_driven_transformer_8_384", pretrained, dict(embed_dim=384, depth=8, pooling="1111"), **kwargs)


@register_snn_model
def spike_driven_transformer_6_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-6-512, ImageNet (23.37M)."""
    return _create("spike_driven_transformer_6_512", pretrained, dict(embed_dim=512, depth=6, pooling="1111"), **kwargs)


@register_snn_model
def spike_driven_transformer_8_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-512, ImageNet (29.68M)."""
    return _create("spike_driven_transformer_8_512", pretrained, dict(embed_dim=512, depth=8, pooling="1111"), **kwargs)


@register_snn_model
def spike_driven_transformer_10_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-10-512, ImageNet (36.01M)."""
    return _create(
        "spike_driven_transformer_10_512", pretrained, dict(embed_dim=512, depth=10, pooling="1111"), **kwargs
    )


@register_snn_model
def spike_driven_transformer_8_768(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-768, ImageNet (66.34M)."""
    return _create("spike_driven_transformer_8_768", pretrained, dict(embed_dim=768, depth=8, pooling="1111"), **kwargs)


@register_snn_model
def spike_driven_transformer_2_256_cifar(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-2-256, CIFAR (8 heads, 32 -> 8x8 tokens)."""
    model_args = dict(embed_dim=256, depth=2, pooling="0011")
    return _create("spike_driven_transformer_2_256_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spike_driven_transformer_2_512_cifar(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-2-512, CIFAR (8 heads, 32 -> 8x8 tokens)."""
    model_args = dict(embed_dim=512, depth=2, pooling="0011")
    return _create("spike_driven_transformer_2_512_cifar", pretrained, model_args, **kwargs)
