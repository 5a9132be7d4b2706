"""Multi-step stateless layers: spikingjelly's wrappers with ``step_mode='m'``.

They keep torch's parameter names (``weight``, ``bias``, ``running_mean``...), so an SNN
and its ANN twin, or a timm ResNet, share state_dict keys. Inputs are [T, B, ...].
"""

from __future__ import annotations

import torch
import torch.nn as nn
from spikingjelly.activation_based import layer as sj_layer

from .time_axis import (
    batch_size,
    first_samples,
    from_batch_first,
    is_sequence,
    mean_over_time,
    sum_over_time,
    to_sequence,
)


def Conv2d(*args, **kwargs) -> nn.Conv2d:
    return sj_layer.Conv2d(*args, step_mode="m", **kwargs)


def Conv1d(*args, **kwargs) -> nn.Conv1d:
    return sj_layer.Conv1d(*args, step_mode="m", **kwargs)


def BatchNorm2d(*args, **kwargs) -> nn.BatchNorm2d:
    return sj_layer.BatchNorm2d(*args, step_mode="m", **kwargs)


def BatchNorm1d(*args, **kwargs) -> nn.BatchNorm1d:
    return sj_layer.BatchNorm1d(*args, step_mode="m", **kwargs)


def MaxPool2d(*args, **kwargs) -> nn.MaxPool2d:
    return sj_layer.MaxPool2d(*args, step_mode="m", **kwargs)


__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvBnSpike",
    "MaxPool2d",
    # the time-axis rule (time_axis.py)
    "batch_size",
    "first_samples",
    "from_batch_first",
    "is_sequence",
    "mean_over_time",
    "sum_over_time",
    "to_sequence",
]


class ConvBnSpike(nn.Module):
    """conv -> BN -> spiking neuron on [T, B, C, H, W]; the SNN's basic unit."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        make_neuron,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        bias: bool = False,
    ):
        super().__init__()
        padding = kernel_size // 2 if padding is None else padding
        self.conv = Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, bias=bias)
        self.bn = BatchNorm2d(out_chs)
        self.sn = make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sn(self.bn(self.conv(x)))
