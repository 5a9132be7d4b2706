"""Spikingformer: Spikformer with membrane-shortcut (MS) residuals and spike-driven attention.

Zhou et al., "Spikingformer: Spike-driven Residual Learning for Transformer-based Spiking Neural
Network" (arXiv:2304.11954); official code zhouchenlin2096/Spikingformer.

Same blocks, widths and shapes as :mod:`spikformer` (the shared SSA, MLP and block of
:mod:`snn_zoo.layers`, with ``spike_first=True``): every conv is fed by a spiking neuron placed
*before* it, so each conv sees binary spikes (no non-spike multiplications), and the residual adds the BN outputs
(pre-activations) of the branches: x + BN(conv(spike(x))). The tokenizer has five conv3x3-BN
stages D/8, D/4, D/2, D, D (the fifth takes the place of Spikformer's RPE conv, without its
residual); the first conv sees pixels, so no neuron precedes it.

Parameter counts equal Spikformer's (the neurons moved, the convs did not): 8-384 16.81M,
8-512 29.68M, 8-768 66.34M, CIFAR 4-256 4.15M, 2-384 5.76M, 4-384 9.32M. As for Spikformer,
8-384 and 8-512 drop the redundant pre-BN biases of the residual-writing convs to reproduce the
published numbers (see :mod:`spikformer`); the others keep the official code's biases.

``spikingformer_cml_*`` are BKDSNN's students (Spikingformer-CML, arXiv:2407.09083): in the tokenizer
the max-pool sits after BN and before the next neuron. ``checkpoint_filter_fn`` loads the official
Spikingformer and Spikingformer-CML checkpoints. Feature levels: the five tokenizer stages (each at
its own grid and width), then one level per block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers.attention import SpikingSelfAttention
from ..layers.patch_embed import StemUnit
from ..layers.spiking_mlp import SpikingMlp, SpikingTransformerBlock
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, merge_model_args, register_snn_model, snn_cfg
from ._ported import port_state_dict, ported_cfg


class SpikingTokenizer(nn.Module):
    """Five spike -> [maxpool] -> conv3x3 -> BN stages of widths D/8, D/4, D/2, D, D.

    ``pool_stages`` uses Spikformer's indexing (a pool after stage i), so the same value gives the
    same token grid; here the pool sits at the start of stage i + 1, after its neuron. With ``cml``
    (BKDSNN's Spikingformer-CML students) it sits at the end of stage i, after BN and before the
    next neuron. Each stage is one feature level (:meth:`feature_levels`).
    """

    def __init__(
        self, in_chans: int, embed_dim: int, make_neuron: Callable, pool_stages: Sequence[int], cml: bool = False
    ):
        super().__init__()
        chans = [in_chans, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim, embed_dim]
        pooled = [(i if cml else i - 1) in pool_stages for i in range(5)]
        self.stages = nn.Sequential(
            *[
                StemUnit(
                    chans[i],
                    chans[i + 1],
                    make_neuron,
                    pool=pooled[i],
                    spike_first=True,
                    spike=i > 0,
                    pool_after_bn=cml,
                )
                for i in range(5)
            ]
        )
        self.reductions = [2 ** sum(pooled[: i + 1]) for i in range(5)]

    def feature_levels(self, prefix: str) -> list[dict]:
        """One level per stage: widths D/8, D/4, D/2, D, D, each at its own grid."""
        return [
            dict(num_chs=stage.conv.out_channels, reduction=r, module=f"{prefix}.stages.{i}")
            for i, (stage, r) in enumerate(zip(self.stages, self.reductions))
        ]

    def feature_stages(self) -> list:
        return [[stage] for stage in self.stages]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)


class Spikingformer(SpikingModel):
    """Spikingformer-``depth``-``embed_dim``.

    Args:
        embed_dim: token width D (divisible by 8 and by ``num_heads``).
        depth: number of transformer blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / D.
        pool_stages: tokenizer stages (0..3, Spikformer's indexing) followed by a 2x max-pool; the
            token grid is the input size / 2**len(pool_stages). ImageNet (0, 1, 2, 3), CIFAR (2, 3).
        qkv_bias, proj_bias: biases of the q/k/v convs and of the residual-writing convs.
        cml: the CML tokenizer of BKDSNN's students (max-pool after BN, before the next neuron).
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.

    ``forward_features_seq`` returns the last block's pre-activations (not spikes), which the
    head averages over tokens, as the official code does.
    """

    classifier_name = "head"
    default_out_indices = 3  # features_only: the last 3 levels (the last blocks, as timm's ViTs)
    spike_first = True  # every conv is fed by a neuron (membrane shortcuts)

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
        self.patch_embed = SpikingTokenizer(in_chans, embed_dim, mk, tuple(pool_stages), cml=cml)
        self.blocks = nn.Sequential(
            *[
                SpikingTransformerBlock(
                    SpikingSelfAttention(
                        embed_dim, num_heads, mk, qkv_bias=qkv_bias, proj_bias=proj_bias, spike_first=True
                    ),
                    SpikingMlp(embed_dim, int(embed_dim * mlp_ratio), mk, out_bias=proj_bias, spike_first=True),
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
        if isinstance(self.head, nn.Linear):  # official init of the head: trunc_normal(0.02), zero bias
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def feature_stages(self) -> list:
        """The five tokenizer stages, then one stage per block (timm's ViT convention). Features are
        pre-activation maps [T, B, C, H / r, W / r] (r, C from ``feature_info``)."""
        return self.patch_embed.feature_stages() + [[block] for block in self.blocks]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))  # mean over tokens
        return x if pre_logits else self.head(x)


# Official layouts -> ours: zhouchenlin2096/Spikingformer (CIFAR tokenizer block{0..4}_*, ImageNet
# proj_* / proj{1..4}_*) and BKDSNN's Spikingformer-CML (proj_* / proj{1..4}_* in every folder).
_OFFICIAL_RULES = (
    (r"^patch_embed\.block(\d)_(conv|bn)\.", r"patch_embed.stages.\1.\2."),
    (r"^patch_embed\.proj_(conv|bn)\.", r"patch_embed.stages.0.\1."),
    (r"^patch_embed\.proj(\d)_(conv|bn)\.", r"patch_embed.stages.\1.\2."),
    (r"^block\.(\d+)\.", r"blocks.\1."),
    (r"\.mlp\.mlp([12])_(conv|bn)\.", r".mlp.fc\1_\2."),
)
# The official blocks build LayerNorms norm1 / norm2 that forward never uses.
UNUSED_NORMS = (r"^blocks\.\d+\.norm[12]\.",)


def checkpoint_filter_fn(state_dict: dict, model: Spikingformer) -> dict:
    """Map an official Spikingformer / Spikingformer-CML checkpoint onto ``model`` (timm's pretrained filter).

    Renames the tokenizer and MLP keys, drops the unused LayerNorms and folds a proj / MLP-out conv
    bias that our 8-384 / 8-512 omit into the next BN's running_mean (exact). CML and plain ImageNet
    checkpoints share key names: the architecture name decides where the max-pools sit.
    """
    return port_state_dict(state_dict, model, _OFFICIAL_RULES, UNUSED_NORMS)


# -- registry --------------------------------------------------------------------------------------
IMAGENET_POOLS = (0, 1, 2, 3)  # 224 -> 14x14 tokens
CIFAR_POOLS = (2, 3)  # 32 -> 8x8 tokens
DIGITS_POOLS = (3,)  # 8 -> 4x4 tokens
# Official eval (the authors' cifar10.yml / imagenet.yml): full crop, bicubic.
CIFAR_CFG = dict(
    num_classes=10, input_size=(3, 32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD, crop_pct=1.0, interpolation="bicubic"
)
DIGITS_CFG = dict(num_classes=10, input_size=(1, 8, 8), mean=(0.0,), std=(1.0,), crop_pct=1.0)
IMAGENET_CFG = dict(crop_pct=1.0, interpolation="bicubic")
TRANSFORMER_CFG = dict(first_conv="patch_embed.stages.0.conv", classifier="head")
_PAPER = "arXiv:2304.11954"
_BKDSNN = "arXiv:2407.09083"

# Official checkpoints ported from the authors. LIF tau 2, hard reset, detached reset, T=4; eval as their
# yml files (full crop, bicubic). zhouchenlin2096/Spikingformer (Apache-2.0): README "Main results" tables;
# BKDSNN (MulanPSL-2.0 README badge): README "Performance" tables; CIFAR head counts from its configs.
_LIF_T4 = dict(T=4, neuron="lif", tau=2.0, v_reset=0.0, detach_reset=True)
_SF_PORT = dict(
    repo="zhouchenlin2096/Spikingformer",
    license="apache-2.0",
    source_license="Apache-2.0",
    reported_in="Spikingformer README, Main results",
    paper_ids=_PAPER,
)
_BKD_PORT = dict(
    repo="Intelligent-Computing-Research-Group/BKDSNN",
    license="other",
    source_license="MulanPSL-2.0 (README badge)",
    reported_in="BKDSNN README, Performance",
    paper_ids=(_PAPER, _BKDSNN),
)
_BKD_CIFAR = {  # arch: (CIFAR-10 top-1, link, heads), (CIFAR-100 top-1, link, heads)
    "spikingformer_cml_4_256_cifar": (
        (95.29, "1cyTRwtr7-iPOwIHlkIVkHg?pwd=wvpa", 16),
        (79.41, "1wh9NHNwD10mrcb149USBXA?pwd=9i69", 16),
    ),
    "spikingformer_cml_2_384_cifar": (
        (95.90, "1ERW9mF2dqFwMnzJgz-TsGw?pwd=rn2g", 12),
        (80.63, "1mFTOEm_5rk20B-l0WThGLA?pwd=4ov9", 16),
    ),
    "spikingformer_cml_4_384_cifar": (
        (96.06, "1kfc5qjUx_g0wShfiFGs3Ag?pwd=iuct", 12),
        (81.26, "1aj3GDwgGTFNjFC1L8A_GdQ?pwd=v8qq", 8),
    ),
}
_PORTED_CFGS = {
    "spikingformer_8_768.official_in1k": ported_cfg(
        "spikingformer_8_768.official_in1k",
        top1=75.85,
        dataset="ImageNet-1k",
        snn_args=_LIF_T4,
        origin_url="https://pan.baidu.com/s/1LsECpFOxh30O3vHWow8OGQ",
        **_SF_PORT,
        **IMAGENET_CFG,
        **TRANSFORMER_CFG,
    ),
    "spikingformer_4_384_cifar.official_cifar10": ported_cfg(
        "spikingformer_4_384_cifar.official_cifar10",
        top1=95.81,
        dataset="CIFAR-10 (400 epochs)",
        snn_args=_LIF_T4,
        origin_url="https://pan.baidu.com/s/1mjpD2gtz5ZX0M8N3jobjzA",
        **_SF_PORT,
        **CIFAR_CFG,
        **TRANSFORMER_CFG,
    ),
    **{
        f"spikingformer_cml_8_{d}.bkd_in1k": ported_cfg(
            f"spikingformer_cml_8_{d}.bkd_in1k",
            top1=acc,
            dataset="ImageNet-1k",
            snn_args=_LIF_T4,
            origin_url=f"https://pan.baidu.com/s/{link}",
            **_BKD_PORT,
            **IMAGENET_CFG,
            **TRANSFORMER_CFG,
        )
        for d, acc, link in (
            (512, 77.24, "1fTubmtw1iwLWFe3kAmovXw?pwd=3agw"),
            (768, 79.93, "1QS0n8S5K3Dak9UIa1Zzrnw?pwd=np8h"),
        )
    },
    **{
        f"{arch}.bkd_{ds}": ported_cfg(
            f"{arch}.bkd_{ds}",
            top1=acc,
            dataset=ds.upper().replace("CIFAR", "CIFAR-"),
            snn_args=dict(_LIF_T4, num_heads=heads),
            origin_url=f"https://pan.baidu.com/s/{link}",
            **_BKD_PORT,
            **dict(CIFAR_CFG, num_classes=classes),
            **TRANSFORMER_CFG,
        )
        for arch, runs in _BKD_CIFAR.items()
        for (ds, classes), (acc, link, heads) in zip((("cifar10", 10), ("cifar100", 100)), runs)
    },
}

default_cfgs = generate_snn_default_cfgs(
    {
        **{
            f"spikingformer_8_{d}": snn_cfg(paper_ids=_PAPER, **IMAGENET_CFG, **TRANSFORMER_CFG)
            for d in (384, 512, 768)
        },
        **{
            f"spikingformer_{n}_cifar": snn_cfg(paper_ids=_PAPER, **CIFAR_CFG, **TRANSFORMER_CFG)
            for n in ("4_256", "2_384", "4_384")
        },
        "spikingformer_2_64_digits": snn_cfg(paper_ids=_PAPER, **DIGITS_CFG, **TRANSFORMER_CFG),
        **{
            f"spikingformer_cml_8_{d}": snn_cfg(paper_ids=(_PAPER, _BKDSNN), **IMAGENET_CFG, **TRANSFORMER_CFG)
            for d in (384, 512, 768)
        },
        **{
            f"spikingformer_cml_{n}_cifar": snn_cfg(paper_ids=(_PAPER, _BKDSNN), **CIFAR_CFG, **TRANSFORMER_CFG)
            for n in ("4_256", "2_384", "4_384")
        },
        **_PORTED_CFGS,
    }
)


def _create_spikingformer(variant: str, pretrained: bool, model_args: dict[str, Any], **kwargs) -> Spikingformer:
    """Build ``variant`` from its ``model_args``; user kwargs win (timm style) except ``pool_stages``
    and ``cml``: the token grid fixes the input size the variant's cfg describes, and the tokenizer
    order is what the variant's weights were trained with."""
    kwargs = merge_model_args(
        variant, model_args, kwargs, fixed=tuple(k for k in ("pool_stages", "cml") if k in model_args)
    )
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(Spikingformer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def spikingformer_8_384(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-384, ImageNet (16.81M)."""
    # proj_bias=False: see the module docstring
    model_args = dict(embed_dim=384, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False)
    return _create_spikingformer("spikingformer_8_384", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_8_512(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-512, ImageNet (29.68M)."""
    # proj_bias=False: see the module docstring
    model_args = dict(embed_dim=512, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False)
    return _create_spikingformer("spikingformer_8_512", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_8_768(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-8-768, ImageNet (66.34M)."""
    model_args = dict(embed_dim=768, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS)
    return _create_spikingformer("spikingformer_8_768", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_4_256_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-4-256, CIFAR (4.15M at 10 classes; 8 heads of width 32)."""
    model_args = dict(embed_dim=256, depth=4, num_heads=8, pool_stages=CIFAR_POOLS)
    return _create_spikingformer("spikingformer_4_256_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_2_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-2-384, CIFAR (5.76M at 10 classes; 12 heads)."""
    model_args = dict(embed_dim=384, depth=2, num_heads=12, pool_stages=CIFAR_POOLS)
    return _create_spikingformer("spikingformer_2_384_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_4_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-4-384, CIFAR (9.32M at 10 classes; 12 heads)."""
    model_args = dict(embed_dim=384, depth=4, num_heads=12, pool_stages=CIFAR_POOLS)
    return _create_spikingformer("spikingformer_4_384_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_2_64_digits(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-2-64 for 8x8 one-channel digits (4x4 tokens, 4 heads)."""
    model_args = dict(embed_dim=64, depth=2, num_heads=4, pool_stages=DIGITS_POOLS)
    return _create_spikingformer("spikingformer_2_64_digits", pretrained, model_args, **kwargs)


# -- Spikingformer-CML: BKDSNN's students (Intelligent-Computing-Research-Group/BKDSNN Spikingformer-CML).
# Head counts follow BKDSNN's configs: ImageNet 8 heads (config/*/vit-{s,m,b}-*.yml); CIFAR-10 12 heads
# for 4-384 / 2-384 (config/mixed/vit-{s,st}-mixed.yml), 16 for 4-256; CIFAR-100 4-384 8 heads
# (cifar100/vit-s-mixed.yml), set by that ported tag.
@register_snn_model
def spikingformer_cml_8_384(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-8-384, ImageNet (16.81M): max-pool after BN, before the neuron."""
    model_args = dict(embed_dim=384, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False, cml=True)
    return _create_spikingformer("spikingformer_cml_8_384", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_cml_8_512(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-8-512, ImageNet (29.68M)."""
    model_args = dict(embed_dim=512, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, proj_bias=False, cml=True)
    return _create_spikingformer("spikingformer_cml_8_512", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_cml_8_768(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-8-768, ImageNet (66.34M)."""
    model_args = dict(embed_dim=768, depth=8, num_heads=8, pool_stages=IMAGENET_POOLS, cml=True)
    return _create_spikingformer("spikingformer_cml_8_768", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_cml_4_256_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-4-256, CIFAR (4.15M at 10 classes; 16 heads: BKDSNN's vit-ti configs say 16
    (config/mixed/vit-ti-300-mixed.yml, config/baseline/vit-ti.yml) or 12, which does not divide 256
    and fails the official code's own assert)."""
    model_args = dict(embed_dim=256, depth=4, num_heads=16, pool_stages=CIFAR_POOLS, cml=True)
    return _create_spikingformer("spikingformer_cml_4_256_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_cml_2_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-2-384, CIFAR (5.76M at 10 classes; 12 heads)."""
    model_args = dict(embed_dim=384, depth=2, num_heads=12, pool_stages=CIFAR_POOLS, cml=True)
    return _create_spikingformer("spikingformer_cml_2_384_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spikingformer_cml_4_384_cifar(pretrained: bool = False, **kwargs) -> Spikingformer:
    """Spikingformer-CML-4-384, CIFAR (9.32M at 10 classes; 12 heads)."""
    model_args = dict(embed_dim=384, depth=4, num_heads=12, pool_stages=CIFAR_POOLS, cml=True)
    return _create_spikingformer("spikingformer_cml_4_384_cifar", pretrained, model_args, **kwargs)
