"""Spiking ResNet and SEW-ResNet (spike-element-wise residuals), ImageNet and CIFAR stems.

Parameter names follow timm's / torchvision's ResNet (conv1, bn1, layer1.0.conv1, ...,
downsample.0/1, fc), so ImageNet ANN weights transfer by name (SAKD level 1).

References: Fang et al., "Deep Residual Learning in Spiking Neural Networks" (NeurIPS 2021);
Zheng et al., "Going Deeper With Directly-Trained Larger SNNs" (AAAI 2021).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn

from ..layers import BatchNorm2d, Conv2d, MaxPool2d
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, published_cfg, register_snn_model, snn_cfg

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

    def _init_shortcut(self, downsample: Optional[nn.Module], make_neuron: Callable, connect: Optional[str]):
        self.downsample = downsample
        self.downsample_sn = make_neuron() if downsample is not None and connect is not None else None
        self.connect = connect


class BasicBlock(_ResidualBlock):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: Optional[nn.Module],
                 make_neuron: Callable, connect: Optional[str]):
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

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: Optional[nn.Module],
                 make_neuron: Callable, connect: Optional[str]):
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


def add_stages(model: SpikingModel, block: type, layers: Sequence[int], widths: Sequence[int], inplanes: int,
               reduction: int, connect: Optional[str]) -> list[dict]:
    """Add residual stages ``layer1..N`` (first stride 1, then 2) to ``model``; returns feature_info."""
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


class SpikingResNet(SpikingModel):
    """Spiking / SEW ResNet. ``stem``: 'imagenet' (7x7/2 conv + maxpool) or 'cifar' (3x3/1 conv)."""

    def __init__(
        self,
        block: type,
        layers: Sequence[int],
        connect: Optional[str] = None,
        stem: str = "imagenet",
        widths: Sequence[int] = (64, 128, 256, 512),
        in_chans: int = 3,
        num_classes: int = 1000,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        if connect is not None and connect not in CONNECT_FUNCTIONS:
            raise ValueError(f"Unknown connect function {connect!r}; choose one of {list(CONNECT_FUNCTIONS)}.")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"Unknown stem {stem!r}; choose 'imagenet' or 'cifar'.")
        self.connect = connect
        stem_width = widths[0]
        if stem == "imagenet":
            self.conv1 = Conv2d(in_chans, stem_width, 7, stride=2, padding=3, bias=False)
            self.maxpool = MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = Conv2d(in_chans, stem_width, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = BatchNorm2d(stem_width)
        self.sn1 = self.make_neuron()

        self.feature_info = add_stages(self, block, layers, widths, stem_width, 4 if stem == "imagenet" else 1, connect)
        inplanes = self.feature_info[-1]["num_chs"]
        self.num_stages = len(layers)
        self.num_features = self.head_hidden_size = inplanes
        self.fc = nn.Linear(inplanes, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features_seq(self, x_seq: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.sn1(self.bn1(self.conv1(x_seq))))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))
        return x if pre_logits else self.fc(x)


def _create(variant: str, pretrained: bool, block: type, layers: Sequence[int], **kwargs) -> SpikingResNet:
    return build_snn_model(SpikingResNet, variant, pretrained, block=block, layers=layers, **kwargs)


_CIFAR = dict(num_classes=10, input_size=(3, 32, 32), mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
_PAPERS = {"sew": "arXiv:2102.04159", "spiking": "arXiv:2011.05280"}

default_cfgs = generate_snn_default_cfgs({
    **{f"sew_resnet{d}": snn_cfg(paper_ids=_PAPERS["sew"]) for d in (18, 34, 50, 101, 152)},
    **{f"sew_resnet{d}_cifar": snn_cfg(paper_ids=_PAPERS["sew"], **_CIFAR) for d in (18, 34, 50)},
    **{f"spiking_resnet{d}": snn_cfg(paper_ids=_PAPERS["spiking"]) for d in (18, 34, 50)},
    **{f"spiking_resnet{d}_cifar": snn_cfg(paper_ids=_PAPERS["spiking"], **_CIFAR) for d in (18, 34, 50)},
    "sew_resnet10_digits": snn_cfg(paper_ids=_PAPERS["sew"], num_classes=10, input_size=(1, 8, 8), mean=(0.0,),
                                   std=(1.0,), crop_pct=1.0),
    **{name: published_cfg(name, (1, 8, 8), paper_ids=_PAPERS["sew"])
       for name in ("sew_resnet10_digits.bkd_t4_digits", "sew_resnet10_digits.none_t4_digits")},
})

_DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3)),
           101: (Bottleneck, (3, 4, 23, 3)), 152: (Bottleneck, (3, 8, 36, 3))}


def _sew(depth: int, pretrained: bool, stem: str = "imagenet", **kwargs) -> SpikingResNet:
    block, layers = _DEPTHS[depth]
    name = f"sew_resnet{depth}" + ("_cifar" if stem == "cifar" else "")
    kwargs.setdefault("connect", "ADD")
    return _create(name, pretrained, block, layers, stem=stem, **kwargs)


def _spiking(depth: int, pretrained: bool, stem: str = "imagenet", **kwargs) -> SpikingResNet:
    block, layers = _DEPTHS[depth]
    name = f"spiking_resnet{depth}" + ("_cifar" if stem == "cifar" else "")
    return _create(name, pretrained, block, layers, stem=stem, connect=None, **kwargs)


@register_snn_model
def sew_resnet18(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-18 (ImageNet stem). kwargs: connect='ADD'|'AND'|'IAND', T, neuron, ..."""
    return _sew(18, pretrained, **kwargs)


@register_snn_model
def sew_resnet34(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-34 (ImageNet stem)."""
    return _sew(34, pretrained, **kwargs)


@register_snn_model
def sew_resnet50(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-50 (ImageNet stem)."""
    return _sew(50, pretrained, **kwargs)


@register_snn_model
def sew_resnet101(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-101 (ImageNet stem)."""
    return _sew(101, pretrained, **kwargs)


@register_snn_model
def sew_resnet152(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-152 (ImageNet stem)."""
    return _sew(152, pretrained, **kwargs)


@register_snn_model
def sew_resnet18_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-18 with a CIFAR stem (3x3 conv, no maxpool)."""
    return _sew(18, pretrained, stem="cifar", **kwargs)


@register_snn_model
def sew_resnet34_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-34 with a CIFAR stem."""
    return _sew(34, pretrained, stem="cifar", **kwargs)


@register_snn_model
def sew_resnet50_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-50 with a CIFAR stem."""
    return _sew(50, pretrained, stem="cifar", **kwargs)


@register_snn_model
def spiking_resnet18(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-18 (add before the neuron; ImageNet stem)."""
    return _spiking(18, pretrained, **kwargs)


@register_snn_model
def spiking_resnet34(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-34 (ImageNet stem)."""
    return _spiking(34, pretrained, **kwargs)


@register_snn_model
def spiking_resnet50(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-50 (ImageNet stem)."""
    return _spiking(50, pretrained, **kwargs)


@register_snn_model
def spiking_resnet18_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-18 with a CIFAR stem."""
    return _spiking(18, pretrained, stem="cifar", **kwargs)


@register_snn_model
def spiking_resnet34_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-34 with a CIFAR stem."""
    return _spiking(34, pretrained, stem="cifar", **kwargs)


@register_snn_model
def spiking_resnet50_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-50 with a CIFAR stem."""
    return _spiking(50, pretrained, stem="cifar", **kwargs)


@register_snn_model
def sew_resnet10_digits(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """A SEW-ResNet scaled to digit images: CIFAR stem, one BasicBlock per stage, widths 16-128."""
    kwargs.setdefault("connect", "ADD")
    return _create("sew_resnet10_digits", pretrained, BasicBlock, (1, 1, 1, 1), stem="cifar",
                   widths=(16, 32, 64, 128), **kwargs)
