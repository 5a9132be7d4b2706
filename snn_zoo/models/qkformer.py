"""QKFormer: hierarchical spiking transformer with Q-K token attention, ImageNet and CIFAR.

Zhou et al., "QKFormer: Hierarchical Spiking Transformer using Q-K Attention" (NeurIPS 2024,
arXiv:2403.16552). Structure follows the official code (zhouchenlin2096/QKFormer,
``imagenet/qkformer.py`` and ``cifar10/model.py``):

* Three stages of widths D/4, D/2, D. Each starts with a patch embedding of two conv3x3-BN-spike
  layers plus a spiking conv1x1 shortcut (``x + shortcut(x)``, spike counts in {0, 1, 2}).
  ImageNet: 224 -> 56 (stem, two 2x max-pools) -> 28 -> 14 tokens; CIFAR: 32 -> 32 -> 16 -> 8.
* Stages 1 and 2 use Q-K token attention (QKTA): q, k = spike(BN(conv1x1(x))); per head, the
  channels of q are summed per token, spiked at threshold 0.5 (a binary token mask) and multiply
  k; then proj = spike(BN(conv1x1)). Linear in the number of tokens, no value branch.
* Stage 3 uses Spikformer's spiking self-attention (SSA, :mod:`snn_zoo.layers.attention`).
* MLP: two conv1x1-BN-spike layers (ratio 4). Head: mean over tokens and time -> Linear.

Parameter counts (1000 classes) match the paper: 10-384 16.47M, 10-512 29.08M, 10-768 64.96M;
CIFAR 4-384 6.74M (100 classes; 6.71M with 10).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers import BatchNorm1d, Conv1d, ConvBnSpike
from ..layers.attention import ATTN_THRESHOLD, SpikingSelfAttention
from ..layers.patch_embed import StemUnit
from ..layers.spiking_mlp import SpikingMlp, SpikingTransformerBlock
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, merge_model_args, register_snn_model
from ._ported import port_state_dict, ported_cfg

__all__ = ["QKFormer", "checkpoint_filter_fn"]


class PatchEmbed(nn.Module):
    """Two conv3x3-BN-spike layers plus a spiking conv1x1 shortcut: ``x + shortcut(x)``.

    ``pools``: which of the two conv layers is followed by a 2x max-pool; ``shortcut_stride``
    makes the conv1x1 shortcut land on the same grid. ``first_chs`` (the stem) inserts one more
    conv3x3-BN-spike layer in front whose output feeds both paths.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        make_neuron: Callable,
        pools: Sequence[bool],
        shortcut_stride: int,
        mid_chs: int | None = None,
        third: bool = False,
    ):
        super().__init__()
        mid_chs = out_chs if mid_chs is None else mid_chs
        # conv3x3 -> BN -> [max-pool 3x3/2] -> spike (the official order: pool before the neuron)
        self.conv1 = StemUnit(in_chs, mid_chs, make_neuron, pool=pools[0], pool_after_bn=True)
        self.conv2 = StemUnit(mid_chs, out_chs, make_neuron, pool=pools[1], pool_after_bn=True)
        # ImageNet's stem adds a third conv3x3-BN-spike after the two pooled ones.
        self.conv3 = StemUnit(out_chs, out_chs, make_neuron) if third else nn.Identity()
        self.shortcut = ConvBnSpike(
            in_chs if mid_chs == out_chs else mid_chs,
            out_chs,
            make_neuron,
            kernel_size=1,
            stride=shortcut_stride,
            padding=0,
        )
        self.shortcut_after_conv1 = mid_chs != out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut_after_conv1:  # stem: the shortcut starts from the first layer's spikes
            x = self.conv1(x)
            return self.conv3(self.conv2(x)) + self.shortcut(x)
        return self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x)


class QKTokenAttention(nn.Module):
    """Q-K token attention on [T, B, D, H, W]: x = spike_0.5(sum_c q_head) * k, then proj.

    Heads are contiguous channel groups (the official ``reshape(T, B, heads, D / heads, N)``).
    """

    def __init__(self, dim: int, num_heads: int, make_neuron: Callable):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"stage width {dim} must be divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        for name in ("q", "k"):
            setattr(self, f"{name}_conv", Conv1d(dim, dim, 1, bias=False))
            setattr(self, f"{name}_bn", BatchNorm1d(dim))
            setattr(self, f"{name}_sn", make_neuron())
        self.attn_sn = make_neuron(v_threshold=ATTN_THRESHOLD)
        self.proj_conv = Conv1d(dim, dim, 1)
        self.proj_bn = BatchNorm1d(dim)
        self.proj_sn = make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, D, H, W = x.shape
        tokens = x.flatten(3)
        q = self.q_sn(self.q_bn(self.q_conv(tokens))).reshape(T, B, self.num_heads, -1, H * W)
        k = self.k_sn(self.k_bn(self.k_conv(tokens))).reshape(T, B, self.num_heads, -1, H * W)
        mask = self.attn_sn(q.sum(dim=3, keepdim=True))  # one binary gate per head and token
        out = (mask * k).reshape(T, B, D, H * W)
        return self.proj_sn(self.proj_bn(self.proj_conv(out))).reshape(T, B, D, H, W)


class BatchAsTime(nn.Module):
    """Runs a multi-step neuron on [T, B, ...] as if ``T * B`` were the time axis (the official
    stage-3 projection neuron gets a [T * B, C, N] tensor, so its membrane carries from one sample
    of the batch to the next). Identical to the plain neuron for a batch of one."""

    def __init__(self, neuron: nn.Module):
        super().__init__()
        self.sn = neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sn(x.flatten(0, 1)).reshape(x.shape)


def qkformer_block(
    dim: int,
    num_heads: int,
    make_neuron: Callable,
    mlp_ratio: float = 4.0,
    token_attention: bool = True,
    proj_over_batch: bool = False,
) -> SpikingTransformerBlock:
    """Residual attention (QKTA, or SSA in the last stage) + residual spiking MLP."""
    if token_attention:
        attn = QKTokenAttention(dim, num_heads, make_neuron)
    else:
        attn = SpikingSelfAttention(dim, num_heads, make_neuron, qkv_bias=False, proj_bias=True)
        if proj_over_batch:
            attn.proj_sn = BatchAsTime(attn.proj_sn)
    return SpikingTransformerBlock(attn, SpikingMlp(dim, int(dim * mlp_ratio), make_neuron))


class QKFormer(SpikingModel):
    """QKFormer-``sum(depths)``-``embed_dim``.

    Args:
        embed_dim: width D of the last stage (stages are D/4, D/2, D).
        depths: blocks per stage; stages 1-2 use Q-K token attention, stage 3 SSA.
        num_heads: heads per stage (an int applies to all three).
        mlp_ratio: MLP hidden width / stage width.
        cifar: CIFAR layout (no down-sampling in the stem; 32 -> 8x8 tokens) instead of ImageNet's
            (224 -> 14x14 tokens).
        proj_over_batch: reproduce a quirk of the official code: the SSA blocks' projection neuron
            runs on the [T * B, C, N] tensor, i.e. over the batch as if it were time, so a sample's
            output depends on the samples before it in the batch. Off (each sample on its own) gives
            the official output for a batch of one; on gives it for any batch, in the same order.
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.
    """

    classifier_name = "head"

    def __init__(
        self,
        embed_dim: int = 384,
        depths: Sequence[int] = (1, 2, 7),
        num_heads: int | Sequence[int] = 6,
        mlp_ratio: float = 4.0,
        cifar: bool = False,
        proj_over_batch: bool = False,
        in_chans: int = 3,
        num_classes: int = 1000,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        heads = (num_heads,) * 3 if isinstance(num_heads, int) else tuple(num_heads)
        if len(heads) != 3 or len(depths) != 3:
            raise ValueError(f"QKFormer has three stages; got depths={list(depths)}, num_heads={list(heads)}.")
        if embed_dim % 8:
            raise ValueError(f"embed_dim must be divisible by 8 (stem width D/8), got {embed_dim}.")
        dims = (embed_dim // 4, embed_dim // 2, embed_dim)
        mk = self.make_neuron
        self.embed_dim = embed_dim
        if cifar:  # stem keeps the grid; stage embeds pool after their second conv
            stem = PatchEmbed(in_chans, dims[0], mk, (False, False), 1, mid_chs=embed_dim // 8)
            embeds = [PatchEmbed(dims[i], dims[i + 1], mk, (False, True), 2) for i in range(2)]
        else:  # stem pools twice (4x), stage embeds pool after their first conv
            stem = PatchEmbed(in_chans, dims[0], mk, (True, True), 2, mid_chs=embed_dim // 8, third=True)
            embeds = [PatchEmbed(dims[i], dims[i + 1], mk, (True, False), 2) for i in range(2)]
        self.patch_embeds = nn.ModuleList([stem, *embeds])
        self.stages = nn.ModuleList(
            [
                nn.Sequential(
                    *[
                        qkformer_block(
                            dims[i], heads[i], mk, mlp_ratio, token_attention=i < 2, proj_over_batch=proj_over_batch
                        )
                        for _ in range(depths[i])
                    ]
                )
                for i in range(3)
            ]
        )
        stem_reduction = 1 if cifar else 4
        self.feature_info = [
            dict(num_chs=dims[i], reduction=stem_reduction * 2**i, module=f"stages.{i}") for i in range(3)
        ]
        self.num_features = self.head_hidden_size = embed_dim
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        if isinstance(self.head, nn.Linear):  # official init of Linear layers
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def feature_stages(self) -> list:
        """Three stages (patch embedding + blocks); features are token maps [T, B, D_i, H_i, W_i]."""
        return [[embed, *stage] for embed, stage in zip(self.patch_embeds, self.stages)]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))
        return x if pre_logits else self.head(x)


# -- official checkpoints --------------------------------------------------------------------------
def _embed_rules(official: int, ours: int, layers: Sequence[str]) -> list:
    """Rules for ``patch_embed{official}.proj{layer}_{conv,bn}`` -> ``patch_embeds.{ours}.conv{i}``."""
    rules = [(rf"^patch_embed{official}\.proj_res_(conv|bn)\.", rf"patch_embeds.{ours}.shortcut.\1.")]
    rules += [
        (rf"^patch_embed{official}\.proj{name}_(conv|bn)\.", rf"patch_embeds.{ours}.conv{i + 1}.\1.")
        for i, name in enumerate(layers)
    ]
    return rules


# (official key regex, ours): ImageNet names (``attn``, ``mlp.fc1_``) and CIFAR names (``ssa``, ``mlp.mlp1_``).
_RULES = [
    *_embed_rules(1, 0, ("", "1", "2")),
    *_embed_rules(2, 1, ("3", "4")),
    *_embed_rules(3, 2, ("3", "4")),
    *[
        rule
        for i in range(3)
        for rule in (
            (rf"^stage{i + 1}\.(\d+)\.(?:tssa|attn|ssa)\.", rf"stages.{i}.\1.attn."),
            (rf"^stage{i + 1}\.(\d+)\.mlp\.(?:fc|mlp)([12])_", rf"stages.{i}.\1.mlp.fc\2_"),
        )
    ],
]


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: QKFormer) -> dict[str, torch.Tensor]:
    """Map an official QKFormer state dict (ImageNet or CIFAR code) onto :class:`QKFormer`.

    Official layout: ``patch_embed1.proj{,1,2}_{conv,bn}`` + ``proj_res_*`` (stem),
    ``patch_embed{2,3}.proj{3,4}_*`` + ``proj_res_*``, ``stage{1,2,3}.N.{tssa,attn,ssa}.*`` and
    ``.mlp.{fc,mlp}{1,2}_*``. Keys already in our layout pass through; anything else that does not
    fit is one error before a weight is copied.
    """
    return port_state_dict(state_dict, model, _RULES)


# -- registry --------------------------------------------------------------------------------------
_PAPER = "arXiv:2403.16552"
_CFG = dict(first_conv="patch_embeds.0.conv1.conv", classifier="head")
_IMAGENET = dict(crop_pct=0.875, interpolation="bicubic", **_CFG)  # official eval: resize 256, crop 224, bicubic
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
# The README's download column is empty at the commit we ported from (c2a00e8): the weights must be
# obtained from the authors; origin_url points at the repository.
_QK_PORT = dict(
    repo="zhouchenlin2096/QKFormer",
    origin_url="https://github.com/zhouchenlin2096/QKFormer",
    license="other",
    source_license="none stated",
    snn_args=_OFFICIAL_SNN,
    paper_ids=_PAPER,
)

default_cfgs = generate_snn_default_cfgs(
    {
        **{
            f"qkformer_10_{d}.official_in1k": ported_cfg(
                f"qkformer_10_{d}.official_in1k",
                top1=acc,
                dataset="ImageNet-1k",
                reported_in="QKFormer README, main results (224 px, T=4)",
                **_QK_PORT,
                **_IMAGENET,
            )
            for d, acc in ((384, 78.80), (512, 82.04), (768, 84.22))
        },
        "qkformer_4_384_cifar.official_cifar10": ported_cfg(
            "qkformer_4_384_cifar.official_cifar10",
            top1=96.21,
            dataset="CIFAR-10",
            reported_in="cifar10/cifar10_origin_log.txt, best metric",
            **_QK_PORT,
            **_CIFAR,
        ),
        "qkformer_4_384_cifar.official_cifar100": ported_cfg(
            "qkformer_4_384_cifar.official_cifar100",
            top1=81.22,
            dataset="CIFAR-100",
            reported_in="cifar100/cifar100_origin_log.txt, best metric",
            **_QK_PORT,
            **dict(_CIFAR, num_classes=100),
        ),
    }
)


def _create_qkformer(variant: str, pretrained: bool, model_args: dict[str, Any], **kwargs) -> QKFormer:
    """Build ``variant`` from its ``model_args``; user kwargs win except ``cifar`` (the stem picks the variant)."""
    kwargs = merge_model_args(variant, model_args, kwargs, fixed=("cifar",))
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(QKFormer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def qkformer_10_384(pretrained: bool = False, **kwargs) -> QKFormer:
    """QKFormer-10-384, ImageNet (16.47M; 6 heads)."""
    model_args = dict(embed_dim=384, depths=(1, 2, 7), num_heads=6, cifar=False)
    return _create_qkformer("qkformer_10_384", pretrained, model_args, **kwargs)


@register_snn_model
def qkformer_10_512(pretrained: bool = False, **kwargs) -> QKFormer:
    """QKFormer-10-512, ImageNet (29.08M; 8 heads)."""
    model_args = dict(embed_dim=512, depths=(1, 2, 7), num_heads=8, cifar=False)
    return _create_qkformer("qkformer_10_512", pretrained, model_args, **kwargs)


@register_snn_model
def qkformer_10_768(pretrained: bool = False, **kwargs) -> QKFormer:
    """QKFormer-10-768, ImageNet (64.96M; 12 heads)."""
    model_args = dict(embed_dim=768, depths=(1, 2, 7), num_heads=12, cifar=False)
    return _create_qkformer("qkformer_10_768", pretrained, model_args, **kwargs)


@register_snn_model
def qkformer_4_384_cifar(pretrained: bool = False, **kwargs) -> QKFormer:
    """QKFormer-4-384, CIFAR-10/100 (6.74M at 100 classes; 8 heads, blocks 1 + 1 + 2)."""
    model_args = dict(embed_dim=384, depths=(1, 1, 2), num_heads=8, cifar=True)
    return _create_qkformer("qkformer_4_384_cifar", pretrained, model_args, **kwargs)
