"""Small convolutional SNNs for digit-scale inputs (8x8 scikit-learn digits up to 28x28 MNIST).

stem conv -> [conv, maxpool] -> [conv, maxpool] -> conv -> global average -> fc. Global pooling
makes the same weights shape-agnostic, so one family serves every digit resolution.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import ConvBnSpike, MaxPool2d
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, published_cfg, register_snn_model, snn_cfg


class SpikingCNN(SpikingModel):
    """Four conv-BN-spike layers of widths (w, w, 2w, 4w) with two 2x2 max-pools."""

    min_input_size = 4  # two unpadded 2x2 max-pools

    def __init__(self, width: int = 16, in_chans: int = 1, num_classes: int = 10, **snn_kwargs):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        w = width
        self.stem = ConvBnSpike(in_chans, w, self.make_neuron)
        self.stage1 = nn.Sequential(ConvBnSpike(w, w, self.make_neuron), MaxPool2d(2))
        self.stage2 = nn.Sequential(ConvBnSpike(w, 2 * w, self.make_neuron), MaxPool2d(2))
        self.stage3 = ConvBnSpike(2 * w, 4 * w, self.make_neuron)
        self.feature_info = [
            dict(num_chs=w, reduction=1, module="stem"),
            dict(num_chs=w, reduction=2, module="stage1"),
            dict(num_chs=2 * w, reduction=4, module="stage2"),
            dict(num_chs=4 * w, reduction=4, module="stage3"),
        ]
        self.num_features = self.head_hidden_size = 4 * w
        self.fc = nn.Linear(4 * w, num_classes) if num_classes > 0 else nn.Identity()

    def feature_stages(self) -> list:
        return [[self.stem], list(self.stage1), list(self.stage2), [self.stage3]]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))
        return x if pre_logits else self.fc(x)


_HEAD = dict(first_conv="stem.conv", classifier="fc")

default_cfgs = generate_snn_default_cfgs(
    {
        **{
            f"spiking_cnn_{size}": snn_cfg(
                num_classes=10, input_size=(1, 8, 8), mean=(0.0,), std=(1.0,), crop_pct=1.0, **_HEAD
            )
            for size in ("tiny", "small", "base")
        },
        # Published checkpoints (checkpoints/<name>, recipes/zoo/<name>.yaml).
        **{
            name: published_cfg(name, (1, 8, 8), **_HEAD)
            for name in (
                "spiking_cnn_small.bkd_t4_digits",
                "spiking_cnn_small.hetero_t4_digits",
                "spiking_cnn_small.none_t4_digits",
            )
        },
        # Trained at T=1 with noise, run at T=4 (snn_zoo.distill.noisy): the conversion rule's IF neuron.
        "spiking_cnn_small.noisy_t4_digits": published_cfg(
            "spiking_cnn_small.noisy_t4_digits",
            (1, 8, 8),
            neuron="if",
            snn_args=dict(v_reset="soft", v_init=0.5),
            **_HEAD,
        ),
        **{
            name: published_cfg(name, (2, 16, 16), **_HEAD)
            for name in (
                "spiking_cnn_small.bkd_t4_digits_dvs",
                "spiking_cnn_small.hetero_t4_digits_dvs",
                "spiking_cnn_small.none_t4_digits_dvs",
            )
        },
    }
)


def _create_spiking_cnn(variant: str, pretrained: bool, **kwargs) -> SpikingCNN:
    return build_snn_model(SpikingCNN, variant, pretrained, **kwargs)


@register_snn_model
def spiking_cnn_tiny(pretrained: bool = False, **kwargs) -> SpikingCNN:
    """Width-8 digit SNN (6.9k params at 10 classes)."""
    model_args = dict(width=8)
    return _create_spiking_cnn("spiking_cnn_tiny", pretrained, **dict(model_args, **kwargs))


@register_snn_model
def spiking_cnn_small(pretrained: bool = False, **kwargs) -> SpikingCNN:
    """Width-16 digit SNN."""
    model_args = dict(width=16)
    return _create_spiking_cnn("spiking_cnn_small", pretrained, **dict(model_args, **kwargs))


@register_snn_model
def spiking_cnn_base(pretrained: bool = False, **kwargs) -> SpikingCNN:
    """Width-32 digit SNN."""
    model_args = dict(width=32)
    return _create_spiking_cnn("spiking_cnn_base", pretrained, **dict(model_args, **kwargs))
