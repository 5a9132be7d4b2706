"""Spikformer: spiking patch splitting (SPS) + spiking self-attention (SSA), ImageNet and CIFAR.

Zhou et al., "Spikformer: When Spiking Neural Network Meets Transformer" (ICLR 2023,
arXiv:2209.15425). Structure follows the official code (ZK-Zhou/spikformer):

* SPS: four conv3x3-BN-spike stages of widths D/8, D/4, D/2, D, a 3x3/2 max-pool after stages
  3 and 4 (CIFAR, 32x32 -> 8x8 tokens) or after every stage (ImageNet, 224 -> 14x14); then the
  relative position embedding ``x + spike(BN(conv3x3(x)))``.
* SSA: q, k, v = spike(BN(conv1x1(x))) per token (Conv1d on [T, B, D, N], as in the official
  code); x = q k^T v * 0.125 per head; spike with threshold 0.5; proj = spike(BN(conv1x1)).
* MLP: two conv1x1-BN-spike layers (hidden ratio 4). Residual ``x + attn(x)``, ``x + mlp(x)``.
* Head: mean over tokens -> Linear ``head``.

SSA, the MLP, the block and the stage unit live in :mod:`snn_zoo.layers` (Spikingformer and QKFormer
use them too). Feature levels: the four SPS stages and the RPE (each at its own grid and width), then
one level per block.

Parameter counts. The published counts (8-384 16.81M, 8-512 29.68M, 8-768 66.34M, CIFAR 4-384
9.32M) cannot all come from one layer recipe. The official ImageNet code holds two LayerNorms per
block that it never uses (its training log for 8-512 reports 29,705,768 parameters); without them
the counts are 16.82M / 29.69M / 66.34M / 9.32M. Every bias or layer one could drop grows with D,
so no single choice lowers the first two by 0.01M without lowering 8-768 as well. The variants
differ only in which convs carry a bias right before a BatchNorm; such a bias is redundant (BN
subtracts the mean; to convert a checkpoint, subtract it from ``running_mean`` and drop it), so
``proj_bias`` (attention proj and MLP fc2 convs) is set per variant to reproduce the published
numbers: False for 8-384 and 8-512, True (as the official code) for 8-768 and CIFAR.

Official checkpoints load through ``checkpoint_filter_fn`` (timm's pretrained filter): it renames the
SPS / block keys, reshapes the CIFAR code's nn.Linear projections to our 1x1 convs, drops the unused
LayerNorms and folds those pre-BN biases into the BN's running_mean. ``spikformer_cml_4_384_cifar``
is BKDSNN's CML variant (max-pool before the tokenizer neurons).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers.attention import SpikingSelfAttention
from ..layers.patch_embed import ResidualStemUnit, StemUnit
from ..layers.spiking_mlp import SpikingMlp, SpikingTransformerBlock
from ._base import SpikingModel
from ._builder import (
    build_snn_model,
    generate_snn_default_cfgs,
    merge_model_args,
    published_cfg,
    register_snn_model,
    snn_cfg,
)
from ._ported import port_state_dict, ported_cfg


class SpikingPatchEmbed(nn.Module):
    """SPS: stages of widths D/8, D/4, D/2, D, then the relative position embedding (RPE).

    ``pool_stages``: indices (0..3) of the stages followed by a 2x max-pool; ``cml``: pool before
    the stage's neuron (see :class:`~snn_zoo.layers.patch_embed.StemUnit`). Each stage and the RPE
    is one feature level (:meth:`feature_levels`).
    """

    def __init__(
        self, in_chans: int, embed_dim: int, make_neuron: Callable, pool_stages: Sequence[int], cml: bool = False
    ):
        super().__init__()
        widths = [embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        chans = [in_chans, *widths]
        self.stages = nn.Sequential(
            *[StemUnit(chans[i], chans[i + 1], make_neuron, pool=i in pool_stages, pool_after_bn=cml) for i in range(4)]
        )
        # official order: conv -> BN -> spike, then add the stage output
        self.rpe = ResidualStemUnit(embed_dim, embed_dim, make_neuron)
        self.reductions = [2 ** sum(p <= i for p in set(pool_stages)) for i in range(4)]

    def feature_levels(self, prefix: str) -> list[dict]:
        """feature_info entries (module names under ``prefix``): one per stage (widths D/8 .. D, each at its
        own grid) and one for the RPE."""
        info = [
            dict(num_chs=stage.conv.out_channels, reduction=r, module=f"{prefix}.stages.{i}")
            for i, (stage, r) in enumerate(zip(self.stages, self.reductions))
        ]
        return info + [dict(info[-1], module=f"{prefix}.rpe")]

    def feature_stages(self) -> list:
        return [[stage] for stage in self.stages] + [[self.rpe]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rpe(self.stages(x))


class Spikformer(SpikingModel):
    """Spikformer-``depth``-``embed_dim``.

    Args:
        embed_dim: token width D (divisible by 8 and by ``num_heads``).
        depth: number of transformer blocks.
        num_heads: SSA heads.
        mlp_ratio: MLP hidden width / D.
        pool_stages: stem stages (0..3) followed by a 2x max-pool; the token grid is the input
            size / 2**len(pool_stages). ImageNet (0, 1, 2, 3), CIFAR (2, 3).
        qkv_bias, proj_bias: biases of the q/k/v convs and of the residual-writing convs.
        cml: the CML tokenizer of BKDSNN's students (max-pool after BN, before the neuron).
        trunc_normal_init: initialise the q/k/v/proj and MLP projections as the official CIFAR code
            does (nn.Linear layers there: trunc_normal std 0.02, zero bias); otherwise torch's conv
            default, as the official ImageNet code (nn.Conv1d / nn.Conv2d layers).
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.
    """

    classifier_name = "head"
    default_out_indices = 3  # features_only: the last 3 levels (the last blocks, as timm's ViTs)
    spike_first = False  # conv -> BN -> spike everywhere (Spikingformer: spike first)

    def __init__(
        self,
        embed_dim: int = 384,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        pool_stages: Sequence[int] = (0, 1, 2, 3),
        qkv_bias: bool = False,
        proj_bias: bool = True,
        cml: bool = False,
        trunc_normal_init: bool = False,
        in_chans: int = 3,
        num_classes: int = 1000,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        self.cml = cml
        if embed_dim % 8:
            raise ValueError(f"embed_dim must be divisible by 8 (stem widths D/8..D), got {embed_dim}.")
        if any(s not in range(4) for s in pool_stages):
            raise ValueError(f"pool_stages must be stage indices in 0..3, got {list(pool_stages)}.")
        self.embed_dim = embed_dim
        mk = self.make_neuron
        self.patch_embed = SpikingPatchEmbed(in_chans, embed_dim, mk, tuple(pool_stages), cml=cml)
        self.blocks = nn.Sequential(
            *[
                SpikingTransformerBlock(
                    SpikingSelfAttention(embed_dim, num_heads, mk, qkv_bias=qkv_bias, proj_bias=proj_bias),
                    SpikingMlp(embed_dim, int(embed_dim * mlp_ratio), mk, out_bias=proj_bias),
                )
                for _ in range(depth)
            ]
        )
        token_reduction = self.patch_embed.reductions[-1]
        self.feature_info = self.patch_embed.feature_levels("patch_embed") + [
            dict(num_chs=embed_dim, reduction=token_reduction, module=f"blocks.{i}") for i in range(depth)
        ]
        self.num_features = self.head_hidden_size = embed_dim
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        # Official init: every nn.Linear gets trunc_normal(std 0.02) and a zero bias (the head, and in
        # the CIFAR code also q/k/v/proj/fc1/fc2); its convs keep torch's default.
        projections = [m for b in self.blocks for m in b.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
        for layer in [self.head] + (projections if trunc_normal_init else []):
            if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def feature_stages(self) -> list:
        """The tokenizer's stages and RPE, then one stage per block (timm's ViT convention). Features
        are maps [T, B, C, H / r, W / r] (r, C from ``feature_info``)."""
        return self.patch_embed.feature_stages() + [[block] for block in self.blocks]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))  # mean over tokens
        return x if pre_logits else self.head(x)


# -- registry --------------------------------------------------------------------------------------
IMAGENET_POOLS = (0, 1, 2, 3)  # 224 -> 14x14 tokens
CIFAR_POOLS = (2, 3)  # 32 -> 8x8 tokens
DIGITS_POOLS = (3,)  # 8 -> 4x4 tokens
CIFAR_CFG = dict(
    num_classes=10, input_size=(3, 32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD, crop_pct=1.0, interpolation="bicubic"
)
DIGITS_CFG = dict(num_classes=10, input_size=(1, 8, 8), mean=(0.0,), std=(1.0,), crop_pct=1.0)
IMAGENET_CFG = dict(crop_pct=1.0, interpolation="bicubic")  # official eval: full 224 crop, bicubic
TRANSFORMER_CFG = dict(first_conv="patch_embed.stages.0.conv", classifier="head")
_PAPER = "arXiv:2209.15425"

# Official checkpoints ported from the authors (ZK-Zhou/spikformer; MIT). LIF tau 2, hard reset, detached
# reset, T=4; eval as their imagenet.yml / cifar10.yml (full crop, bicubic).
_LIF_T4 = dict(T=4, neuron="lif", tau=2.0, v_reset=0.0, detach_reset=True)
_SPIKFORMER_PORT = dict(
    repo="ZK-Zhou/spikformer",
    origin_url="https://github.com/ZK-Zhou/spikformer",
    license="mit",
    source_license="MIT",
    snn_args=_LIF_T4,
    paper_ids=_PAPER,
)
_PORTED_CFGS = {
    **{
        f"spikformer_8_{d}.official_in1k": ported_cfg(
            f"spikformer_8_{d}.official_in1k",
            top1=acc,
            dataset="ImageNet-1k",
            reported_in="Spikformer paper, Table 2",
            **_SPIKFORMER_PORT,
            **IMAGENET_CFG,
            **TRANSFORMER_CFG,
        )
        for d, acc in ((384, 70.24), (512, 73.38), (768, 74.81))
    },
    "spikformer_4_384_cifar.official_cifar10": ported_cfg(
        "spikformer_4_384_cifar.official_cifar10",
        top1=95.19,
        dataset="CIFAR-10",
        reported_in="Spikformer paper, Table 3",
        **_SPIKFORMER_PORT,
        **CIFAR_CFG,
        **TRANSFORMER_CFG,
    ),
    "spikformer_4_384_cifar.official_cifar100": ported_cfg(
        "spikformer_4_384_cifar.official_cifar100",
        top1=77.86,
        dataset="CIFAR-100",
        reported_in="Spikformer paper, Table 3",
        **_SPIKFORMER_PORT,
        **dict(CIFAR_CFG, num_classes=100),
        **TRANSFORMER_CFG,
    ),
}

default_cfgs = generate_snn_default_cfgs(
    {
        **{f"spikformer_8_{d}": snn_cfg(paper_ids=_PAPER, **IMAGENET_CFG, **TRANSFORMER_CFG) for d in (384, 512, 768)},
        "spikformer_4_384_cifar": snn_cfg(paper_ids=_PAPER, **CIFAR_CFG, **TRANSFORMER_CFG),
        "spikformer_cml_4_384_cifar": snn_cfg(paper_ids=(_PAPER, "arXiv:2407.09083"), **CIFAR_CFG, **TRANSFORMER_CFG),
        **_PORTED_CFGS,
        "spikformer_2_64_digits": snn_cfg(paper_ids=_PAPER, **DIGITS_CFG, **TRANSFORMER_CFG),
        **{
            name: published_cfg(name, (1, 8, 8), paper_ids=_PAPER, **TRANSFORMER_CFG)
            for name in ("spikformer_2_64_digits.bkd_t4_digits", "spikformer_2_64_digits.none_t4_digits")
        },
    }
)


# Official layouts -> ours (ZK-Zhou/spikformer cifar10 + imagenet model.py; BKDSNN's CML_Spikformer.py).
# Rules apply in order; q/k/v/proj/fc stored as nn.Linear (CIFAR) are reshaped to our 1x1 convs.
_OFFICIAL_RULES = (
    (r"^patch_embed\.proj_(conv|bn)\.", r"patch_embed.stages.0.\1."),
    (r"^patch_embed\.proj_(conv|bn)(\d)\.", r"patch_embed.stages.\2.\1."),
    *((rf"^patch_embed\.block{i}_(conv|bn)\.", rf"patch_embed.stages.{i - 1}.\1.") for i in range(1, 5)),  # CML
    (r"^patch_embed\.rpe_(conv|bn)\.", r"patch_embed.rpe.\1."),
    (r"^block\.(\d+)\.", r"blocks.\1."),
    (r"\.attn\.(q|k|v|proj)_linear\.", r".attn.\1_conv."),
    (r"\.mlp\.fc([12])_linear\.", r".mlp.fc\1_conv."),
)
# The official blocks build LayerNorms norm1 / norm2 that forward never uses.
UNUSED_NORMS = (r"^blocks\.\d+\.norm[12]\.",)


def checkpoint_filter_fn(state_dict: dict, model: Spikformer) -> dict:
    """Map an official Spikformer checkpoint onto ``model`` (timm's pretrained filter).

    Renames the SPS tokenizer (``proj_conv/proj_bn{,1,2,3}``, CML ``block{1..4}_*``, ``rpe_*``) and
    ``block.N`` -> ``blocks.N``; reshapes Linear / Conv1d projections to our 1x1 convs; drops the
    unused LayerNorms; folds a proj / fc2 conv bias that our 8-384 / 8-512 omit into the next BN's
    running_mean (exact). Our own layout passes unchanged; anything else raises before a weight is copied.
    """
    return port_state_dict(state_dict, model, _OFFICIAL_RULES, UNUSED_NORMS)


def _create_spikformer(variant: str, pretrained: bool, model_args: dict[str, Any], **kwargs) -> Spikformer:
    """Build ``variant`` from its ``model_args``; user kwargs win (timm style) except ``pool_stages``
    and ``cml``: the token grid fixes the input size the variant's cfg describes, and the tokenizer
    order is what the variant's weights were trained with."""
    kwargs = merge_model_args(
        variant, model_args, kwargs, fixed=tuple(k for k in ("pool_stages", "cml") if k in model_args)
    )
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(Spikformer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def spikformer_8_384(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-8-384, ImageNet (16.81M; redundant pre-BN proj/fc2 biases dropped to match)."""
    model_args = dict(embed_dim=384, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False)
    return _create_spikformer("spikformer_8_384", pretrained, model_args, **kwargs)


@register_snn_model
def spikformer_8_512(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-8-512, ImageNet (29.68M; redundant pre-BN proj/fc2 biases dropped to match)."""
    model_args = dict(embed_dim=512, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False)
    return _create_spikformer("spikformer_8_512", pretrained, model_args, **kwargs)


@register_snn_model
def spikformer_8_768(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-8-768, ImageNet (66.34M; biases as in the official code)."""
    model_args = dict(embed_dim=768, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS)
    return _create_spikformer("spikformer_8_768", pretrained, model_args, **kwargs)


@register_snn_model
def spikformer_4_384_cifar(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-4-384, CIFAR (9.32M at 10 classes; 12 heads, biased q/k/v as the official CIFAR code)."""
    model_args = dict(
        embed_dim=384, depth=4, num_heads=12, pool_stages=CIFAR_POOLS, qkv_bias=True, trunc_normal_init=True
    )
    return _create_spikformer("spikformer_4_384_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikformer_cml_4_384_cifar(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-CML-4-384, CIFAR (9.32M at 10 classes): BKDSNN's CML tokenizer (max-pool after BN,
    before the neuron; Spikingformer-CML/cifar10/CML_Spikformer.py), otherwise spikformer_4_384_cifar."""
    model_args = dict(
        embed_dim=384, depth=4, num_heads=12, pool_stages=CIFAR_POOLS, qkv_bias=True, trunc_normal_init=True, cml=True
    )
    return _create_spikformer("spikformer_cml_4_384_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikformer_2_64_digits(pretrained: bool = False, **kwargs) -> Spikformer:
    """Spikformer-2-64 for 8x8 one-channel digits (4x4 tokens, 4 heads)."""
    model_args = dict(embed_dim=64, depth=2, num_heads=4, pool_stages=DIGITS_POOLS)
    return _create_spikformer("spikformer_2_64_digits", pretrained, model_args, **kwargs)
