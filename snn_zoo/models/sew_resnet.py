"""Spiking ResNet and SEW-ResNet (spike-element-wise residuals), ImageNet and CIFAR stems.

Parameter names follow timm's / torchvision's ResNet (conv1, bn1, layer1.0.conv1, ...,
downsample.0/1, fc), so ImageNet ANN weights transfer by name (SAKD level 1).

Neuron defaults differ from the papers' ImageNet setting. The authors' code
(fangwei123456/Spike-Element-Wise-ResNet) uses IF neurons with ``detach_reset=True`` at T=4; these
entrypoints default to the zoo's LIF (tau 2, hard reset, no detach) like every other family. Pass
``neuron='if', detach_reset=True`` for the papers' setting; the ported ``.sew_in1k`` tags carry it
(and ``.sakd_in1k`` SAKD's LIF with ``decay_input=False``, ATan), so ``create_model(tag)`` alone runs
the official forward. ``checkpoint_filter_fn`` loads the authors' checkpoints (old spikingjelly
``convN.module.{0,1}`` keys, SAKD's KD transforms dropped).

References: Fang et al., "Deep Residual Learning in Spiking Neural Networks" (NeurIPS 2021);
Zheng et al., "Going Deeper With Directly-Trained Larger SNNs" (AAAI 2021).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers import BatchNorm2d, Conv2d, MaxPool2d
from ..layers.residual import CONNECT_FUNCTIONS, BasicBlock, Bottleneck, add_stages
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


class SpikingResNet(SpikingModel):
    """Spiking / SEW ResNet. ``stem``: 'imagenet' (7x7/2 conv + maxpool) or 'cifar' (3x3/1 conv)."""

    def __init__(
        self,
        block: type,
        layers: Sequence[int],
        connect: str | None = None,
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

        stem_reduction = 2 if stem == "imagenet" else 1  # timm's level 0: the stem activation, before the max-pool
        self.feature_info = [dict(num_chs=stem_width, reduction=stem_reduction, module="sn1")]
        self.feature_info += add_stages(
            self, block, layers, widths, stem_width, 2 * stem_reduction if stem == "imagenet" else 1, connect
        )
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

    def feature_stages(self) -> list:
        """Stem (conv, BN, spike), then max-pool + layer1, layer2, ... one block per residual block."""
        stages = [[(self.conv1, self.bn1, self.sn1)]]
        for i in range(self.num_stages):
            stages.append(list(getattr(self, f"layer{i + 1}")))
        stages[1].insert(0, self.maxpool)
        return stages

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x_seq.mean(dim=(-2, -1))
        return x if pre_logits else self.fc(x)


# -- official checkpoints ported from the authors (ImageNet, T=4; eval: resize 256, center crop 224,
# bilinear, ImageNet mean/std as their train.py). Top-1 of fangwei123456/Spike-Element-Wise-ResNet: max
# test_acc1 of its origin_logs/imagenet tensorboard logs (= the paper's tables).
_SEW_REPO = "fangwei123456/Spike-Element-Wise-ResNet"
_SEW_ORIGIN = "https://figshare.com/articles/software/Spike-Element-Wise-ResNet/14752998"
_IF_T4 = dict(T=4, neuron="if", detach_reset=True)  # cext MultiStepIFNode(detach_reset=True)
_SEW_PORT = dict(
    repo=_SEW_REPO,
    origin_url=_SEW_ORIGIN,
    dataset="ImageNet-1k",
    license="mpl-2.0",
    source_license="MPL-2.0",
    reported_in="origin_logs/imagenet tensorboard, max test_acc1",
)
_BKD_PORT = dict(
    repo="Intelligent-Computing-Research-Group/BKDSNN",
    dataset="ImageNet-1k",
    license="other",
    source_license="MulanPSL-2.0 (README badge); SEW code MPL-2.0",
    snn_args=_IF_T4,
    reported_in="BKDSNN README table (identical to its CML 8-512 / 8-768 rows: check the paper)",
)
_PORTED_CFGS = {
    **{
        f"sew_resnet{d}.sew_in1k": ported_cfg(
            f"sew_resnet{d}.sew_in1k",
            top1=acc,
            snn_args=dict(_IF_T4, connect="ADD"),
            paper_ids="arXiv:2102.04159",
            **_SEW_PORT,
        )
        for d, acc in ((18, 63.18), (34, 67.04), (50, 67.78), (101, 68.76), (152, 69.26))
    },
    **{
        f"spiking_resnet{d}.sew_in1k": ported_cfg(
            f"spiking_resnet{d}.sew_in1k",
            top1=acc,
            snn_args=_IF_T4,
            paper_ids=("arXiv:2011.05280", "arXiv:2102.04159"),
            **_SEW_PORT,
        )
        for d, acc in ((18, 62.32), (34, 61.86), (50, 57.66))
    },
    "sew_resnet34.bkd_in1k": ported_cfg(
        "sew_resnet34.bkd_in1k",
        top1=77.24,
        origin_url="https://pan.baidu.com/s/1cncSXl-53Xiudszt0aEosg?pwd=aa5q",
        paper_ids=("arXiv:2102.04159", "arXiv:2407.09083"),
        **_BKD_PORT,
    ),
    "sew_resnet50.bkd_in1k": ported_cfg(
        "sew_resnet50.bkd_in1k",
        top1=79.93,
        origin_url="https://pan.baidu.com/s/1pMBCaGaD7X7-CLBBsJ2xOg?pwd=mms3",
        paper_ids=("arXiv:2102.04159", "arXiv:2407.09083"),
        **_BKD_PORT,
    ),
    # SAKD (Maybe2022/SAKD imagenet/models/SEW.py): LIF tau 2 (decay_input=False), ATan, no detach_reset.
    "sew_resnet50.sakd_in1k": ported_cfg(
        "sew_resnet50.sakd_in1k",
        repo="Maybe2022/SAKD",
        top1=74.70,
        dataset="ImageNet-1k",
        origin_url="https://drive.google.com/drive/folders/1yxOkmcprKA4Vea_hTC1LCSsae0vWdO-B",
        license="other",
        source_license="none stated",
        reported_in="SAKD README (origin_logs/sew50_SAKD_120epoch.log)",
        snn_args=dict(T=4, neuron="lif", decay_input=False, surrogate="atan", connect="ADD"),
        paper_ids="arXiv:2102.04159",
    ),
}

_CIFAR = dict(num_classes=10, input_size=(3, 32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD)
_PAPERS = {"sew": "arXiv:2102.04159", "spiking": "arXiv:2011.05280"}

default_cfgs = generate_snn_default_cfgs(
    {
        **{f"sew_resnet{d}": snn_cfg(paper_ids=_PAPERS["sew"]) for d in (18, 34, 50, 101, 152)},
        **{f"sew_resnet{d}_cifar": snn_cfg(paper_ids=_PAPERS["sew"], **_CIFAR) for d in (18, 34, 50)},
        **{f"spiking_resnet{d}": snn_cfg(paper_ids=_PAPERS["spiking"]) for d in (18, 34, 50)},
        **{f"spiking_resnet{d}_cifar": snn_cfg(paper_ids=_PAPERS["spiking"], **_CIFAR) for d in (18, 34, 50)},
        "sew_resnet10_digits": snn_cfg(
            paper_ids=_PAPERS["sew"], num_classes=10, input_size=(1, 8, 8), mean=(0.0,), std=(1.0,), crop_pct=1.0
        ),
        **{
            name: published_cfg(name, (1, 8, 8), paper_ids=_PAPERS["sew"])
            for name in ("sew_resnet10_digits.bkd_t4_digits", "sew_resnet10_digits.none_t4_digits")
        },
        **_PORTED_CFGS,
    }
)


# Official layouts -> ours. Old spikingjelly SeqToANNContainer(conv, bn) stores convN.module.0 / .module.1
# (SEW-ResNet and Spiking-ResNet authors' code, BKDSNN's SEW students); the SEW downsample is
# Sequential(SeqToANNContainer(conv, bn), IFNode), the Spiking-ResNet one SeqToANNContainer(conv, bn).
_OFFICIAL_RULES = (
    (r"^(layer\d+\.\d+)\.conv(\d)\.module\.0\.", r"\1.conv\2."),
    (r"^(layer\d+\.\d+)\.conv(\d)\.module\.1\.", r"\1.bn\2."),
    (r"^(layer\d+\.\d+)\.downsample\.0\.module\.([01])\.", r"\1.downsample.\2."),
    (r"^(layer\d+\.\d+)\.downsample\.module\.([01])\.", r"\1.downsample.\2."),
)
# SAKD (Maybe2022/SAKD imagenet/models/SEW.py) keeps the 1x1 conv + BN stage transforms of its
# feature-KD loss inside the model; they are not part of the network.
_TRAINING_ONLY = (r"^transform\d+\.net\.",)


def checkpoint_filter_fn(state_dict: dict, model: SpikingResNet) -> dict:
    """Map an official SEW-ResNet / Spiking-ResNet checkpoint onto ``model`` (timm's pretrained filter).

    Handles the authors' old spikingjelly keys (fangwei123456/Spike-Element-Wise-ResNet, BKDSNN's SEW
    students) and SAKD's SEW-ResNet (KD transforms dropped); our own layout passes unchanged. Keys that
    match nothing, missing keys and another depth/width raise before anything is copied.
    """
    return port_state_dict(state_dict, model, _OFFICIAL_RULES, _TRAINING_ONLY)


def _create_resnet(variant: str, pretrained: bool, model_args: dict, **kwargs) -> SpikingResNet:
    """Build ``variant`` from its ``model_args``; user kwargs win except the stem and the residual kind,
    which pick the variant (``sew_resnet18(stem='cifar')`` is an error: ask for ``sew_resnet18_cifar``)."""
    sew = model_args["connect"] is not None
    kwargs = merge_model_args(variant, model_args, kwargs, fixed=("stem",) if sew else ("stem", "connect"))
    if sew and kwargs["connect"] not in CONNECT_FUNCTIONS:
        raise ValueError(
            f"{variant} is a SEW ResNet: connect must be one of {list(CONNECT_FUNCTIONS)}, got "
            f"{kwargs['connect']!r} (the add-then-fire residual is spiking_resnet*)."
        )
    return build_snn_model(SpikingResNet, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def sew_resnet18(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-18 (ImageNet stem). kwargs: connect='ADD'|'AND'|'IAND', T, neuron, ..."""
    model_args = dict(block=BasicBlock, layers=(2, 2, 2, 2), stem="imagenet", connect="ADD")
    return _create_resnet("sew_resnet18", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet34(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-34 (ImageNet stem)."""
    model_args = dict(block=BasicBlock, layers=(3, 4, 6, 3), stem="imagenet", connect="ADD")
    return _create_resnet("sew_resnet34", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet50(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-50 (ImageNet stem)."""
    model_args = dict(block=Bottleneck, layers=(3, 4, 6, 3), stem="imagenet", connect="ADD")
    return _create_resnet("sew_resnet50", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet101(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-101 (ImageNet stem)."""
    model_args = dict(block=Bottleneck, layers=(3, 4, 23, 3), stem="imagenet", connect="ADD")
    return _create_resnet("sew_resnet101", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet152(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-152 (ImageNet stem)."""
    model_args = dict(block=Bottleneck, layers=(3, 8, 36, 3), stem="imagenet", connect="ADD")
    return _create_resnet("sew_resnet152", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet18_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-18 with a CIFAR stem (3x3 conv, no maxpool)."""
    model_args = dict(block=BasicBlock, layers=(2, 2, 2, 2), stem="cifar", connect="ADD")
    return _create_resnet("sew_resnet18_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet34_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-34 with a CIFAR stem."""
    model_args = dict(block=BasicBlock, layers=(3, 4, 6, 3), stem="cifar", connect="ADD")
    return _create_resnet("sew_resnet34_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet50_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """SEW-ResNet-50 with a CIFAR stem."""
    model_args = dict(block=Bottleneck, layers=(3, 4, 6, 3), stem="cifar", connect="ADD")
    return _create_resnet("sew_resnet50_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet18(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-18 (add before the neuron; ImageNet stem)."""
    model_args = dict(block=BasicBlock, layers=(2, 2, 2, 2), stem="imagenet", connect=None)
    return _create_resnet("spiking_resnet18", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet34(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-34 (ImageNet stem)."""
    model_args = dict(block=BasicBlock, layers=(3, 4, 6, 3), stem="imagenet", connect=None)
    return _create_resnet("spiking_resnet34", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet50(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-50 (ImageNet stem)."""
    model_args = dict(block=Bottleneck, layers=(3, 4, 6, 3), stem="imagenet", connect=None)
    return _create_resnet("spiking_resnet50", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet18_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-18 with a CIFAR stem."""
    model_args = dict(block=BasicBlock, layers=(2, 2, 2, 2), stem="cifar", connect=None)
    return _create_resnet("spiking_resnet18_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet34_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-34 with a CIFAR stem."""
    model_args = dict(block=BasicBlock, layers=(3, 4, 6, 3), stem="cifar", connect=None)
    return _create_resnet("spiking_resnet34_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def spiking_resnet50_cifar(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """Spiking ResNet-50 with a CIFAR stem."""
    model_args = dict(block=Bottleneck, layers=(3, 4, 6, 3), stem="cifar", connect=None)
    return _create_resnet("spiking_resnet50_cifar", pretrained, model_args, **kwargs)


@register_snn_model
def sew_resnet10_digits(pretrained: bool = False, **kwargs) -> SpikingResNet:
    """A SEW-ResNet scaled to digit images: CIFAR stem, one BasicBlock per stage, widths 16-128."""
    model_args = dict(block=BasicBlock, layers=(1, 1, 1, 1), stem="cifar", widths=(16, 32, 64, 128), connect="ADD")
    return _create_resnet("sew_resnet10_digits", pretrained, model_args, **kwargs)
