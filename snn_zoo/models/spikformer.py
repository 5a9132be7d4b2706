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

The pieces take ``spike_first``: False gives Spikformer (conv -> BN -> spike), True gives the
Spikingformer ordering (spike -> conv -> BN, residual on pre-activations); ``spikingformer.py``
builds on them.

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
from ..layers import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvBnSpike, MaxPool2d
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

ATTN_SCALE = 0.125  # fixed in the paper: spikes are not normalised by sqrt(d)
ATTN_THRESHOLD = 0.5  # the attention-output neuron fires at half the usual threshold (official value)


class StemUnit(ConvBnSpike):
    """One patch-stem stage: conv3x3 -> BN -> spike -> [maxpool 3x3/2] (``spike_first=False``),
    or spike -> [maxpool] -> conv3x3 -> BN (``spike_first=True``, Spikingformer's tokenizer).
    ``spike=False`` drops the neuron (the first spike-first stage sees analog pixels).

    ``cml=True``: the max-pool sits right after BN, before the spiking neuron (the CML tokenizer of
    BKDSNN's students, Intelligent-Computing-Research-Group/BKDSNN ``Spikingformer-CML``): conv -> BN
    -> maxpool -> spike, or spike -> conv -> BN -> maxpool with ``spike_first``. Pooling membrane
    inputs is not pooling spikes (the neuron integrates over time), so the two orders differ."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        make_neuron: Callable,
        pool: bool = False,
        spike_first: bool = False,
        spike: bool = True,
        cml: bool = False,
    ):
        super().__init__(in_chs, out_chs, make_neuron, kernel_size=3)
        if not spike:
            self.sn = nn.Identity()
        self.pool = MaxPool2d(3, stride=2, padding=1) if pool else nn.Identity()
        self.spike_first = spike_first
        self.cml = cml

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spike_first and self.cml:
            return self.pool(self.bn(self.conv(self.sn(x))))
        if self.spike_first:
            return self.bn(self.conv(self.pool(self.sn(x))))
        if self.cml:
            return self.sn(self.pool(self.bn(self.conv(x))))
        return self.pool(self.sn(self.bn(self.conv(x))))


class SpikingPatchEmbed(nn.Module):
    """SPS: stages of widths D/8, D/4, D/2, D, then the relative position embedding (RPE).

    ``pool_stages``: indices (0..3) of the stages followed by a 2x max-pool; ``cml``: pool before
    the stage's neuron (see :class:`StemUnit`).
    """

    def __init__(
        self, in_chans: int, embed_dim: int, make_neuron: Callable, pool_stages: Sequence[int], cml: bool = False
    ):
        super().__init__()
        widths = [embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        chans = [in_chans, *widths]
        self.stages = nn.Sequential(
            *[StemUnit(chans[i], chans[i + 1], make_neuron, pool=i in pool_stages, cml=cml) for i in range(4)]
        )
        self.rpe = StemUnit(embed_dim, embed_dim, make_neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)
        return x + self.rpe(x)  # official order: conv -> BN -> spike, then add the stage output


class SpikingSelfAttention(nn.Module):
    """SSA on a token map [T, B, D, H, W].

    q, k, v = spike(BN(conv1x1(x))); per head x = q k^T v * 0.125; spike at threshold 0.5;
    then BN(conv1x1). ``spike_first=False`` (Spikformer): input is spikes, output is spiked by
    ``proj_sn``. ``spike_first=True`` (Spikingformer): ``input_sn`` spikes the incoming
    pre-activations and the output stays a pre-activation (membrane shortcut).
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
        T, B, D, N = s.shape
        return s.transpose(-1, -2).reshape(T, B, N, self.num_heads, D // self.num_heads).transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, D, H, W = x.shape
        tokens = self.input_sn(x).flatten(3)
        q, k, v = (self._heads(tokens, n) for n in ("q", "k", "v"))
        # No softmax, so the product is associative; with spike inputs both orders give the same
        # integer sums, and the order only sets the cost (N^2 d versus N d^2).
        out = q @ (k.transpose(-2, -1) @ v) if q.shape[-2] > q.shape[-1] else (q @ k.transpose(-2, -1)) @ v
        out = (out * ATTN_SCALE).transpose(3, 4).reshape(T, B, D, H * W)
        out = self.proj_sn(self.proj_bn(self.proj_conv(self.attn_sn(out))))
        return out.reshape(T, B, D, H, W)


class SpikingMlp(nn.Module):
    """Two conv1x1-BN layers with a spike each: after BN (Spikformer) or before the conv
    (``spike_first``, Spikingformer)."""

    def __init__(
        self, dim: int, hidden_dim: int, make_neuron: Callable, out_bias: bool = True, spike_first: bool = False
    ):
        super().__init__()
        self.fc1_conv = Conv2d(dim, hidden_dim, 1)  # the hidden conv keeps its bias in every variant
        self.fc1_bn = BatchNorm2d(hidden_dim)
        self.fc1_sn = make_neuron()
        self.fc2_conv = Conv2d(hidden_dim, dim, 1, bias=out_bias)
        self.fc2_bn = BatchNorm2d(dim)
        self.fc2_sn = make_neuron()
        self.spike_first = spike_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spike_first:
            x = self.fc1_bn(self.fc1_conv(self.fc1_sn(x)))
            return self.fc2_bn(self.fc2_conv(self.fc2_sn(x)))
        x = self.fc1_sn(self.fc1_bn(self.fc1_conv(x)))
        return self.fc2_sn(self.fc2_bn(self.fc2_conv(x)))


class SpikformerBlock(nn.Module):
    """Residual SSA + residual MLP. ``proj_bias`` sets the bias of the two convs that write into
    the residual stream (attention proj, MLP fc2); see the module docstring for why it varies."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        make_neuron: Callable,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_bias: bool = True,
        spike_first: bool = False,
    ):
        super().__init__()
        self.attn = SpikingSelfAttention(
            dim, num_heads, make_neuron, qkv_bias=qkv_bias, proj_bias=proj_bias, spike_first=spike_first
        )
        self.mlp = SpikingMlp(dim, int(dim * mlp_ratio), make_neuron, out_bias=proj_bias, spike_first=spike_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


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
    default_out_indices = 3  # features_only: the last 3 blocks, as timm's ViTs
    spike_first = False  # Spikingformer flips this (and its stem) and keeps everything else

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
        self.patch_embed = self._make_stem(in_chans, embed_dim, tuple(pool_stages))
        self.blocks = nn.Sequential(
            *[
                SpikformerBlock(
                    embed_dim,
                    num_heads,
                    self.make_neuron,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_bias=proj_bias,
                    spike_first=self.spike_first,
                )
                for _ in range(depth)
            ]
        )
        reduction = 2 ** len(set(pool_stages))
        self.feature_info = [dict(num_chs=embed_dim, reduction=reduction, module=f"blocks.{i}") for i in range(depth)]
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

    def _make_stem(self, in_chans: int, embed_dim: int, pool_stages: tuple) -> nn.Module:
        return SpikingPatchEmbed(in_chans, embed_dim, self.make_neuron, pool_stages, cml=self.cml)

    def feature_stages(self) -> list:
        """One stage per block (timm's ViT convention); the patch stem runs with the first block.
        Features are token maps [T, B, D, H / 2^p, W / 2^p]."""
        stages = [[block] for block in self.blocks]
        stages[0].insert(0, self.patch_embed)
        return stages

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


def _create_spikformer(
    variant: str,
    pretrained: bool,
    model_args: dict[str, Any],
    model_cls: type | None = None,
    filter_fn: Callable = checkpoint_filter_fn,
    **kwargs,
) -> Spikformer:
    """Build ``variant`` from its ``model_args``; user kwargs win (timm style) except ``pool_stages``
    and ``cml``: the token grid fixes the input size the variant's cfg describes, and the tokenizer
    order is what the variant's weights were trained with."""
    kwargs = merge_model_args(
        variant, model_args, kwargs, fixed=tuple(k for k in ("pool_stages", "cml") if k in model_args)
    )
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    return build_snn_model(model_cls or Spikformer, variant, pretrained, pretrained_filter_fn=filter_fn, **kwargs)


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
