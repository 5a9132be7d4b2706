"""Meta-SpikeFormer (Spike-driven Transformer v2): conv stages + spike-driven transformer stages.

Yao et al., "Spike-driven Transformer V2: Meta Spiking Neural Network Architecture Inspiring the
Design of Next-generation Neuromorphic Chips" (ICLR 2024, arXiv:2404.03663). Structure follows
the official code (BICLab/Spike-Driven-Transformer-V2, ``classification/models.py``):

* Five stages of widths c0/2, c0, c1, c2, c3 (official ``embed_dim = [c0, c1, c2, c3]``):
  down-sampling conv (7x7/2 then 3x3/2, 3x3/2, 3x3/2, 3x3/1; each ``BN(conv(spike(x)))``, the first
  on pixels without a neuron), then blocks. Stages 1-3 use conv blocks (separable conv + 3x3 conv
  MLP), stages 4-5 transformer blocks (6 + 2).
* Conv block (membrane shortcuts): ``x = x + SepConv(x)`` with SepConv = spike -> pw conv (2x) -> BN
  -> spike -> dw 7x7 -> pw conv -> BN; then ``x + BN(conv3x3(spike(BN(conv3x3(spike(x))))))``
  (ratio 4).
* Transformer block: ``x + attn(x)``, ``x + mlp(x)``. Attention: s = spike(x); q, k, v =
  spike(BN(RepConv(s))); per head ``q (k^T v) * 0.125``, spike at threshold 0.5; proj =
  BN(RepConv(.)). RepConv = conv1x1 -> BN -> (pad with the BN's value of a zero input) -> dw 3x3
  -> conv1x1 -> BN: a 3x3 conv that re-parameterises into one at inference. MLP: spike -> conv1x1
  -> BN -> spike -> conv1x1 -> BN (ratio 4).
* Head: mean over tokens -> spike -> Linear, averaged over time; the distilled checkpoints add a
  second Linear (``head_kd``) and average the two heads' logits at inference.

The neuron is binary everywhere in the repository's classification code (commit 35f245f): LIF,
tau 2, detached hard reset, threshold 1 (attention neuron 0.5). Integer-valued (multi-level) spikes
are not part of that code, so they are not modelled here; ``neuron`` selects any zoo neuron.

Parameter counts (1000 classes, one head): 15m 15.11M, 31m 31.33M, 55m 55.35M (paper: 15.1 / 31.3 /
55.4M). 31m and 55m are the official ``metaspikformer_8_384`` / ``metaspikformer_8_512`` (the authors'
55M run trains ``metaspikformer_8_512``); the official code has no 15.1M builder, and widths
64-128-256-360 are our choice that reproduces 15.11M (the released ``metaspikformer_8_768`` is 123.7M
and matches no published size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import get_pretrained_cfg

from ..io import CheckpointError
from ..layers import BatchNorm2d, Conv2d
from ..layers.attention import ATTN_SCALE, ATTN_THRESHOLD, merge_heads, split_heads
from ..layers.spiking_mlp import SpikingMlp, SpikingTransformerBlock
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, register_snn_model, snn_cfg
from ._ported import port_state_dict, ported_cfg

__all__ = ["MetaSpikeFormer", "checkpoint_filter_fn"]


class PadBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d (eval statistics in eval mode) whose output is padded by ``pad`` pixels filled with
    the value the BN gives a zero input, i.e. the map a zero-padded conv1x1 -> BN would give."""

    def __init__(self, num_features: int, pad: int = 1):
        super().__init__(num_features)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        fill = self.bias - self.running_mean * self.weight / torch.sqrt(self.running_var + self.eps)
        out = F.pad(out, [self.pad] * 4)
        p = self.pad
        border = torch.ones_like(out[:1, :1], dtype=torch.bool)
        border[..., p:-p, p:-p] = False
        return torch.where(border, fill.detach().view(1, -1, 1, 1).to(out.dtype), out)


class RepConv(nn.Module):
    """conv1x1 -> BN (padded with its zero-input value) -> dw conv3x3 -> conv1x1 -> BN -> BN, on [T, B, C, H, W]."""

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, in_chs, 1, bias=False)
        self.bn1 = PadBatchNorm2d(in_chs, pad=1)
        self.dwconv = nn.Conv2d(in_chs, in_chs, 3, groups=in_chs, bias=False)
        self.conv2 = nn.Conv2d(in_chs, out_chs, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.bn3 = nn.BatchNorm2d(out_chs)  # the official q/k/v/proj wrap RepConv in one more BN

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = self.bn3(self.bn2(self.conv2(self.dwconv(self.bn1(self.conv1(x.flatten(0, 1)))))))
        return y.reshape(T, B, *y.shape[1:])


class Downsample(nn.Module):
    """``BN(conv(spike(x)))`` (the first one sees pixels: no neuron); the conv keeps its bias."""

    def __init__(
        self, in_chs: int, out_chs: int, make_neuron: Callable, kernel_size: int, stride: int, spike: bool = True
    ):
        super().__init__()
        self.sn = make_neuron() if spike else nn.Identity()
        self.conv = Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=kernel_size // 2)
        self.bn = BatchNorm2d(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.sn(x)))


class SepConv(nn.Module):
    """spike -> pw conv (x2) -> BN -> spike -> dw 7x7 -> pw conv -> BN (MobileNetV2 style)."""

    def __init__(self, dim: int, make_neuron: Callable, expansion: int = 2, kernel_size: int = 7):
        super().__init__()
        mid = dim * expansion
        self.sn1 = make_neuron()
        self.pwconv1 = Conv2d(dim, mid, 1, bias=False)
        self.bn1 = BatchNorm2d(mid)
        self.sn2 = make_neuron()
        self.dwconv = Conv2d(mid, mid, kernel_size, padding=kernel_size // 2, groups=mid, bias=False)
        self.pwconv2 = Conv2d(mid, dim, 1, bias=False)
        self.bn2 = BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.pwconv1(self.sn1(x)))
        return self.bn2(self.pwconv2(self.dwconv(self.sn2(x))))


class ConvBlock(nn.Module):
    """``x + SepConv(x)``, then ``x + BN(conv3x3(spike(BN(conv3x3(spike(x))))))``."""

    def __init__(self, dim: int, make_neuron: Callable, mlp_ratio: int = 4):
        super().__init__()
        self.sep_conv = SepConv(dim, make_neuron)
        self.sn1 = make_neuron()
        self.conv1 = Conv2d(dim, dim * mlp_ratio, 3, padding=1, bias=False)
        self.bn1 = BatchNorm2d(dim * mlp_ratio)
        self.sn2 = make_neuron()
        self.conv2 = Conv2d(dim * mlp_ratio, dim, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.sep_conv(x)
        return x + self.bn2(self.conv2(self.sn2(self.bn1(self.conv1(self.sn1(x))))))


class SpikeDrivenAttention(nn.Module):
    """Spike-driven self-attention of Meta-SpikeFormer on [T, B, D, H, W] (RepConv projections)."""

    def __init__(self, dim: int, num_heads: int, make_neuron: Callable):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"stage width {dim} must be divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        self.input_sn = make_neuron()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", RepConv(dim, dim))
            setattr(self, f"{name}_sn", make_neuron())
        self.attn_sn = make_neuron(v_threshold=ATTN_THRESHOLD)
        self.proj_conv = RepConv(dim, dim)

    def _heads(self, s: torch.Tensor, name: str) -> torch.Tensor:
        """[T, B, D, H, W] -> spikes [T, B, heads, N, D / heads]."""
        s = getattr(self, f"{name}_sn")(getattr(self, f"{name}_conv")(s))
        return split_heads(s.flatten(3), self.num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.input_sn(x)
        q, k, v = (self._heads(s, n) for n in ("q", "k", "v"))
        out = q @ (k.transpose(-2, -1) @ v) * ATTN_SCALE  # no softmax: linear in the number of tokens
        out = self.attn_sn(merge_heads(out).reshape(x.shape))
        return self.proj_conv(out)


class MetaSpikeFormer(SpikingModel):
    """Meta-SpikeFormer with widths ``embed_dims = (c0, c1, c2, c3)``.

    Args:
        embed_dims: widths of conv stages 2-3, transformer stage 4 and 5 (stage 1 is c0 / 2).
        depths: blocks per stage (official: 1, 1, 2, 6, 2).
        num_heads: heads of every transformer block.
        mlp_ratio: hidden width ratio of conv blocks and MLPs.
        distilled: add the ``head_kd`` classifier of the authors' distilled checkpoints; the output
            is the mean of both heads' logits (training with two heads is left to the caller).
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.
    """

    classifier_name = "head"

    def __init__(
        self,
        embed_dims: Sequence[int] = (128, 256, 512, 640),
        depths: Sequence[int] = (1, 1, 2, 6, 2),
        num_heads: int = 8,
        mlp_ratio: int = 4,
        distilled: bool = False,
        in_chans: int = 3,
        num_classes: int = 1000,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        if len(embed_dims) != 4 or len(depths) != 5:
            raise ValueError(
                f"embed_dims needs 4 widths and depths 5 stage sizes, got {list(embed_dims)} and {list(depths)}."
            )
        c0, c1, c2, c3 = embed_dims
        mk = self.make_neuron
        widths = (c0 // 2, c0, c1, c2, c3)
        ins = (in_chans, *widths[:4])
        kernels, strides = (7, 3, 3, 3, 3), (2, 2, 2, 2, 1)
        self.stages = nn.ModuleList()
        for i in range(5):
            stage = nn.Module()
            stage.downsample = Downsample(ins[i], widths[i], mk, kernels[i], strides[i], spike=i > 0)
            stage.blocks = nn.Sequential(
                *[
                    ConvBlock(widths[i], mk, mlp_ratio)
                    if i < 3
                    else SpikingTransformerBlock(
                        SpikeDrivenAttention(widths[i], num_heads, mk),
                        # spike -> conv1x1 -> BN twice, Conv1d on tokens as the official code
                        SpikingMlp(widths[i], widths[i] * mlp_ratio, mk, spike_first=True, token_conv=True),
                    )
                    for _ in range(depths[i])
                ]
            )
            self.stages.append(stage)
        self.feature_info = [
            dict(num_chs=widths[i], reduction=(2, 4, 8, 16, 16)[i], module=f"stages.{i}") for i in range(5)
        ]
        self.embed_dim = c3
        self.num_features = self.head_hidden_size = c3
        self.head_sn = mk()
        self.head = nn.Linear(c3, num_classes) if num_classes > 0 else nn.Identity()
        self.head_kd = (nn.Linear(c3, num_classes) if num_classes > 0 else nn.Identity()) if distilled else None
        for m in self.modules():  # official init of Linear layers
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def feature_stages(self) -> list:
        """Five stages (down-sampling + blocks); features are pre-activation maps [T, B, C_i, H_i, W_i]."""
        return [[stage.downsample, *stage.blocks] for stage in self.stages]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_sn(x_seq.mean(dim=(-2, -1)))
        if pre_logits:
            return x
        if self.head_kd is None:
            return self.head(x)
        return (self.head(x) + self.head_kd(x)) / 2  # official inference of the distilled model

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        if self.head_kd is not None:
            self.head_kd = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


# -- official checkpoints --------------------------------------------------------------------------
_DOWNSAMPLES = {"downsample1_1": 0, "downsample1_2": 1, "downsample2": 2, "downsample3": 3, "downsample4": 4}
_CONV_BLOCKS = {
    "ConvBlock1_1": "0.blocks.0",
    "ConvBlock1_2": "1.blocks.0",
    "ConvBlock2_1": "2.blocks.0",
    "ConvBlock2_2": "2.blocks.1",
}
# RepConv inside ``nn.Sequential(RepConv, BatchNorm2d)``: official sub-key -> ours.
_REPCONV = {
    r"0\.body\.0": "conv1",
    r"0\.body\.1\.bn": "bn1",
    r"0\.body\.2\.0": "dwconv",
    r"0\.body\.2\.1": "conv2",
    r"0\.body\.2\.2": "bn2",
    r"1": "bn3",
}
_RULES = [
    *[(rf"^{name}\.encode_(conv|bn)\.", rf"stages.{i}.downsample.\1.") for name, i in _DOWNSAMPLES.items()],
    *[(rf"^{name}\.0\.Conv\.", f"stages.{ours}.sep_conv.") for name, ours in _CONV_BLOCKS.items()],
    *[(rf"^{name}\.0\.", f"stages.{ours}.") for name, ours in _CONV_BLOCKS.items()],
    *[
        (rf"^block{s}\.(\d+)\.attn\.(q|k|v|proj)_conv\.{sub}\.", rf"stages.{s}.blocks.\1.attn.\2_conv.{ours}.")
        for s in (3, 4)
        for sub, ours in _REPCONV.items()
    ],
    *[(rf"^block{s}\.(\d+)\.", rf"stages.{s}.blocks.\1.") for s in (3, 4)],
]


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: MetaSpikeFormer) -> dict[str, torch.Tensor]:
    """Map an official Meta-SpikeFormer state dict (``checkpoint['model']``) onto :class:`MetaSpikeFormer`.

    Official layout: ``downsample{1_1,1_2,2,3,4}.encode_{conv,bn}``, ``ConvBlock{1_1,1_2,2_1,2_2}.0.*``
    (``Conv.*`` = the separable conv), ``block{3,4}.N.attn.{q,k,v,proj}_conv.{0.body.*, 1}`` (RepConv +
    BN), ``.mlp.fc{1,2}_{conv,bn}``, ``head`` and, in distilled checkpoints, ``head_kd``.
    """
    has_kd = any(k.startswith("head_kd.") for k in state_dict)
    if has_kd != (getattr(model, "head_kd", None) is not None):
        raise CheckpointError(
            f"The checkpoint {'has' if has_kd else 'has no'} distillation head (head_kd) but the model was built with "
            f"distilled={not has_kd}; build it with distilled={has_kd}. Nothing was loaded."
        )
    return port_state_dict(state_dict, model, _RULES)


# -- registry --------------------------------------------------------------------------------------
_PAPER = "arXiv:2404.03663"
# Official eval (util/datasets.py): resize to 256, center crop 224, bicubic. The repo states no license.
_CFG = dict(
    first_conv="stages.0.downsample.conv",
    classifier="head",
    paper_ids=_PAPER,
    license="other",
    crop_pct=0.875,
    interpolation="bicubic",
)
_OFFICIAL_SNN = dict(T=4, neuron="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=True, surrogate="sigmoid")

default_cfgs = generate_snn_default_cfgs(
    {
        "meta_spikeformer_15m": snn_cfg(**_CFG),
        "meta_spikeformer_31m": snn_cfg(**_CFG),
        "meta_spikeformer_55m": snn_cfg(**_CFG),
        "meta_spikeformer_55m.official_kd_in1k": ported_cfg(
            "meta_spikeformer_55m.official_kd_in1k",
            repo="BICLab/Spike-Driven-Transformer-V2",
            origin_url="https://drive.google.com/drive/folders/12JcIRG8BF6JcgPsXIetSS14udtHXeSSx",
            top1=80.0,
            dataset="ImageNet-1k",
            reported_in="Spike-Driven-Transformer-V2 README and paper (55M, T=4, distilled)",
            source_license="none stated",
            snn_args=_OFFICIAL_SNN,
            **_CFG,
        ),
    }
)


def _create(variant: str, pretrained: bool, model_args: dict[str, Any], **kwargs) -> MetaSpikeFormer:
    """Build ``variant`` from its ``model_args``; user kwargs win (timm style)."""
    kwargs = dict(model_args, **kwargs)
    kwargs.setdefault("detach_reset", True)  # official LIF: tau 2, hard reset, detached reset
    # The distilled release has two heads. A tag names it; so does the arch's default tag when its
    # weights are loaded (pretrained=True without a local file). With a local file, pass `distilled`
    # to match it (the filter names the mismatch).
    tag = kwargs.get("pretrained_cfg")
    own_file = "file" in (kwargs.get("pretrained_cfg_overlay") or {})
    if pretrained and not own_file and not isinstance(tag, str):
        tag = getattr(get_pretrained_cfg(variant), "tag", None)
    if isinstance(tag, str) and tag.startswith("official_kd"):
        kwargs.setdefault("distilled", True)
    return build_snn_model(MetaSpikeFormer, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def meta_spikeformer_15m(pretrained: bool = False, **kwargs) -> MetaSpikeFormer:
    """Meta-SpikeFormer 15.1M (widths 64-128-256-360; the official code has no builder for this size)."""
    return _create("meta_spikeformer_15m", pretrained, dict(embed_dims=(64, 128, 256, 360)), **kwargs)


@register_snn_model
def meta_spikeformer_31m(pretrained: bool = False, **kwargs) -> MetaSpikeFormer:
    """Meta-SpikeFormer 31.3M (official ``metaspikformer_8_384``: widths 96-192-384-480)."""
    return _create("meta_spikeformer_31m", pretrained, dict(embed_dims=(96, 192, 384, 480)), **kwargs)


@register_snn_model
def meta_spikeformer_55m(pretrained: bool = False, **kwargs) -> MetaSpikeFormer:
    """Meta-SpikeFormer 55.4M (official ``metaspikformer_8_512``: widths 128-256-512-640)."""
    return _create("meta_spikeformer_55m", pretrained, dict(embed_dims=(128, 256, 512, 640)), **kwargs)
