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
"""
from __future__ import annotations

from typing import Any, Callable, Dict

import torch
import torch.nn as nn

from ..layers import BatchNorm2d, Conv2d, MaxPool2d
from ._base import SpikingModel
from ._ported import port_state_dict
from ._builder import build_snn_model, generate_snn_default_cfgs, merge_model_args, register_snn_model, snn_cfg
from .spikformer import ATTN_THRESHOLD

__all__ = ["SpikeDrivenTransformer", "checkpoint_filter_fn"]


class SdtStem(nn.Module):
    """SPS of the Spike-driven Transformer; ``pooling`` is the official ``pooling_stat`` ('1111')."""

    def __init__(self, in_chans: int, embed_dim: int, make_neuron: Callable, pooling: str = "1111"):
        super().__init__()
        if len(pooling) != 4 or set(pooling) - {"0", "1"}:
            raise ValueError(f"pooling must be four '0'/'1' characters (one per stem stage), got {pooling!r}.")
        chans = [in_chans, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        for i in range(4):
            setattr(self, f"conv{i}", Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False))
            setattr(self, f"bn{i}", BatchNorm2d(chans[i + 1]))
            setattr(self, f"sn{i}", make_neuron())
            setattr(self, f"pool{i}", MaxPool2d(3, stride=2, padding=1) if pooling[i] == "1" else nn.Identity())
        self.rpe_conv = Conv2d(embed_dim, embed_dim, 3, padding=1, bias=False)
        self.rpe_bn = BatchNorm2d(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(3):  # conv -> BN -> spike -> pool (on spikes)
            x = getattr(self, f"pool{i}")(getattr(self, f"sn{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))))
        x = self.pool3(self.bn3(self.conv3(x)))  # the fourth stage pools the pre-activation
        return x + self.rpe_bn(self.rpe_conv(self.sn3(x)))


class SpikeDrivenSelfAttention(nn.Module):
    """SDSA (membrane shortcut) on [T, B, D, H, W]; returns ``x + BN(conv1x1(q * kv))``."""

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
        T, B, D = s.shape[:3]
        return s.flatten(3).transpose(-1, -2).reshape(T, B, -1, self.num_heads, D // self.num_heads).transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, D, H, W = x.shape
        s = self.input_sn(x)
        q, k, v = (self._heads(s, n) for n in ("q", "k", "v"))
        kv = self.kv_sn((k * v).sum(dim=-2, keepdim=True))  # mask, then a sum of spikes over tokens
        out = (q * kv).transpose(3, 4).reshape(T, B, D, H, W)  # mask: a channel passes where kv fired
        return x + self.proj_bn(self.proj_conv(out))


class SdtMlp(nn.Module):
    """Membrane-shortcut MLP: ``x + BN(conv1x1(spike(BN(conv1x1(spike(x))))))``."""

    def __init__(self, dim: int, hidden_dim: int, make_neuron: Callable):
        super().__init__()
        self.fc1_sn = make_neuron()
        self.fc1_conv = Conv2d(dim, hidden_dim, 1)
        self.fc1_bn = BatchNorm2d(hidden_dim)
        self.fc2_sn = make_neuron()
        self.fc2_conv = Conv2d(hidden_dim, dim, 1)
        self.fc2_bn = BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1_bn(self.fc1_conv(self.fc1_sn(x)))
        return x + self.fc2_bn(self.fc2_conv(self.fc2_sn(h)))


class SdtBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, make_neuron: Callable, mlp_ratio: float = 4.0):
        super().__init__()
        self.attn = SpikeDrivenSelfAttention(dim, num_heads, make_neuron)
        self.mlp = SdtMlp(dim, int(dim * mlp_ratio), make_neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))  # each branch adds its own shortcut


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
        self.blocks = nn.Sequential(*[SdtBlock(embed_dim, num_heads, self.make_neuron, mlp_ratio) for _ in range(depth)])
        reduction = 2 ** pooling.count("1")
        self.feature_info = [dict(num_chs=embed_dim, reduction=reduction, module=f"blocks.{i}") for i in range(depth)]
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

    def forward_features_seq(self, x_seq: torch.Tensor) -> torch.Tensor:
        """[T, B, C, H, W] -> last block's pre-activations [T, B, D, H', W']."""
        return self.blocks(self.patch_embed(x_seq))

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_sn(x_seq.mean(dim=(-2, -1)))  # spikes over time of the token-averaged map
        return x if pre_logits else self.head(x)


# -- official checkpoints --------------------------------------------------------------------------
_RULES = [
    (r"^patch_embed\.proj_(conv|bn)\.", r"patch_embed.\g<1>0."),
    (r"^patch_embed\.proj_(conv|bn)([123])\.", r"patch_embed.\1\2."),
    (r"^block\.", "blocks."),
]
_TRAINING_ONLY = [r"\.attn\.talking_heads\.weight$"]  # built by the official code, never used in forward


def checkpoint_filter_fn(state_dict: Dict[str, torch.Tensor], model: SpikeDrivenTransformer) -> Dict[str, torch.Tensor]:
    """Map an official Spike-driven Transformer state dict onto :class:`SpikeDrivenTransformer`.

    Official layout: ``patch_embed.proj_{conv,bn}{,1,2,3}`` and ``rpe_{conv,bn}``;
    ``block.N.attn.{q,k,v,proj}_{conv,bn}`` (+ an unused ``talking_heads`` Conv1d, dropped);
    ``block.N.mlp.fc{1,2}_{conv,bn}``; ``head``. Keys already in our layout pass through.
    """
    return port_state_dict(state_dict, model, _RULES, _TRAINING_ONLY)


# -- registry --------------------------------------------------------------------------------------
_PAPER = "arXiv:2307.01694"
_ORIGIN = "https://github.com/BICLab/Spike-Driven-Transformer"
_CFG = dict(first_conv="patch_embed.conv0", classifier="head", paper_ids=_PAPER, license="apache-2.0")
_IMAGENET = dict(crop_pct=0.95, interpolation="bicubic", **_CFG)  # official configs: crop_pct 0.95, bicubic
_CIFAR = dict(num_classes=10, input_size=(3, 32, 32), mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
              crop_pct=1.0, interpolation="bicubic", **_CFG)
_OFFICIAL_SNN = dict(T=4, neuron="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=True, surrogate="sigmoid")


def _ported(arch: str, tag: str, top1: float, **cfg: Any) -> Dict[str, Dict[str, Any]]:
    return {f"{arch}.{tag}": snn_cfg(
        hf_hub_id=f"snn-zoo/{arch}.{tag}", origin_url=_ORIGIN, snn_args=dict(_OFFICIAL_SNN),
        notes=f"Ported from the authors' release; reported top-1 {top1:.2f} % (T=4, 224 px). Upload and "
              "re-validation pending.", **cfg)}


default_cfgs = generate_snn_default_cfgs({
    **_ported("spike_driven_transformer_8_384", "official_in1k", 72.28, **_IMAGENET),
    **_ported("spike_driven_transformer_6_512", "official_in1k", 74.11, **_IMAGENET),
    **_ported("spike_driven_transformer_8_512", "official_in1k", 74.57, **_IMAGENET),
    **_ported("spike_driven_transformer_10_512", "official_in1k", 74.66, **_IMAGENET),
    **_ported("spike_driven_transformer_8_768", "official_in1k", 77.07, **_IMAGENET),
    "spike_driven_transformer_2_256_cifar": snn_cfg(**_CIFAR),
    "spike_driven_transformer_2_512_cifar": snn_cfg(**_CIFAR),
})


def _create(variant: str, pretrained: bool, model_args: Dict[str, Any], **kwargs) -> SpikeDrivenTransformer:
    """Build ``variant``; user kwargs win (timm style) except ``pooling``, which fixes the token grid
    the variant's cfg describes."""
    kwargs = merge_model_args(variant, model_args, kwargs, fixed=("pooling",))
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(SpikeDrivenTransformer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn,
                           **kwargs)


@register_snn_model
def spike_driven_transformer_8_384(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-384, ImageNet (16.81M)."""
    return _create("spike_driven_transformer_8_384", pretrained, dict(embed_dim=384, depth=8, pooling="1111"),
                   **kwargs)


@register_snn_model
def spike_driven_transformer_6_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-6-512, ImageNet (23.37M)."""
    return _create("spike_driven_transformer_6_512", pretrained, dict(embed_dim=512, depth=6, pooling="1111"),
                   **kwargs)


@register_snn_model
def spike_driven_transformer_8_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-512, ImageNet (29.68M)."""
    return _create("spike_driven_transformer_8_512", pretrained, dict(embed_dim=512, depth=8, pooling="1111"),
                   **kwargs)


@register_snn_model
def spike_driven_transformer_10_512(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-10-512, ImageNet (36.01M)."""
    return _create("spike_driven_transformer_10_512", pretrained, dict(embed_dim=512, depth=10, pooling="1111"),
                   **kwargs)


@register_snn_model
def spike_driven_transformer_8_768(pretrained: bool = False, **kwargs) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-768, ImageNet (66.34M)."""
    return _create("spike_driven_transformer_8_768", pretrained, dict(embed_dim=768, depth=8, pooling="1111"),
                   **kwargs)


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
