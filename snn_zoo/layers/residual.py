"""Spiking residual blocks with torchvision's parameter names: Spiking ResNet (add, then fire) and
SEW ResNet (fire, then combine spikes with the shortcut), shared by SEW-ResNet / Spiking-ResNet and
ResNet-19.

References: Fang et al., "Deep Residual Learning in Spiking Neural Networks" (NeurIPS 2021);
Zheng et al., "Going Deeper With Directly-Trained Larger SNNs" (AAAI 2021).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from . import BatchNorm2d, Conv2d

__all__ = ["CONNECT_FUNCTIONS", "BasicBlock", "Bottleneck", "add_stages", "sew_connect"]

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


def sew_connect(out: torch.Tensor, identity: torch.Tensor, connect: str) -> torch.Tensor:
    """SEW element-wise function g(A, S) of the block output A and the shortcut S."""
    if connect == "ADD":
        return out + identity
    if connect == "AND":
        return out * identity
    return identity * (1.0 - out)  # IAND as in the SEW paper (spikingjelly's Bottleneck reverses it)


def _downsample(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    return nn.Sequential(Conv2d(inplanes, planes, 1, stride=stride, bias=False), BatchNorm2d(planes))


class _ResidualBlock(nn.Module):
    """Shared residual logic. ``connect=None``: Spiking ResNet (add, then fire);
    'ADD'/'AND'/'IAND': SEW (fire, then combine spikes with the spiking shortcut)."""

    def _residual(self, x: torch.Tensor, out: torch.Tensor, last_sn: nn.Module) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        if self.connect is None:
            return last_sn(out + identity)
        if self.downsample_sn is not None:
            identity = self.downsample_sn(identity)
        return sew_connect(last_sn(out), identity, self.connect)

    def _init_shortcut(self, downsample: nn.Module | None, make_neuron: Callable, connect: str | None):
        self.downsample = downsample
        self.downsample_sn = make_neuron() if downsample is not None and connect is not None else None
        self.connect = connect


class BasicBlock(_ResidualBlock):
    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        downsample: nn.Module | None,
        make_neuron: Callable,
        connect: str | None,
    ):
        super().__init__()
        self.conv1 = Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(planes)
        self.sn1 = make_neuron()
        self.conv2 = Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(planes)
        self.sn2 = make_neuron()
        self._init_shortcut(downsample, make_neuron, connect)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.sn1(self.bn1(self.conv1(x)))
        return self._residual(x, self.bn2(self.conv2(out)), self.sn2)


class Bottleneck(_ResidualBlock):
    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        downsample: nn.Module | None,
        make_neuron: Callable,
        connect: str | None,
    ):
        super().__init__()
        self.conv1 = Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = BatchNorm2d(planes)
        self.sn1 = make_neuron()
        self.conv2 = Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = BatchNorm2d(planes)
        self.sn2 = make_neuron()
        self.conv3 = Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = BatchNorm2d(planes * 4)
        self.sn3 = make_neuron()
        self._init_shortcut(downsample, make_neuron, connect)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.sn1(self.bn1(self.conv1(x)))
        out = self.sn2(self.bn2(self.conv2(out)))
        return self._residual(x, self.bn3(self.conv3(out)), self.sn3)


def add_stages(
    model: nn.Module,
    block: type,
    layers: Sequence[int],
    widths: Sequence[int],
    inplanes: int,
    reduction: int,
    connect: str | None,
) -> list[dict]:
    """Add residual stages ``layer1..N`` (first stride 1, then 2) to ``model`` (a zoo model: its
    ``make_neuron`` builds the neurons); returns their feature_info entries."""
    feature_info = []
    for i, (planes, depth) in enumerate(zip(widths, layers)):
        stride = 1 if i == 0 else 2
        reduction *= stride
        stage = []
        for j in range(depth):
            s = stride if j == 0 else 1
            out = planes * block.expansion
            down = _downsample(inplanes, out, s) if (s != 1 or inplanes != out) else None
            stage.append(block(inplanes, planes, s, down, model.make_neuron, connect))
            inplanes = out
        model.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        feature_info.append(dict(num_chs=inplanes, reduction=reduction, module=f"layer{i + 1}"))
    return feature_info
