"""ResNet-19 for CIFAR, as used by tdBN and TET.

conv3x3 stem to 64 -> BasicBlock stages [3, 3, 2] of widths 128 / 256 / 512, strides 1 / 2 / 2
(Spiking-ResNet residual: add, then fire) -> global average pool -> fc1 512 -> 256 -> spike -> fc2.
12.63M parameters at 10 classes (a 128-wide stem, as in some TET code, would give 12.70M).

The head is not linear: fc1's spiking neuron integrates over time, so ``head_seq`` runs on the
whole [T, B, ...] sequence, and ``forward_head`` on a time-averaged map is only an approximation.

References: Zheng et al., "Going Deeper With Directly-Trained Larger SNNs" (AAAI 2021,
arXiv:2011.05280); Deng et al., "Temporal Efficient Training of SNNs" (ICLR 2022, arXiv:2202.11946).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from ..data.constants import CIFAR10_MEAN, CIFAR10_STD
from ..layers import BatchNorm2d, Conv2d
from ..layers.residual import BasicBlock, add_stages
from ._base import SpikingModel
from ._builder import build_snn_model, generate_snn_default_cfgs, register_snn_model, snn_cfg
from ._ported import port_state_dict


class SpikingResNet19(SpikingModel):
    """ResNet-19 with a two-layer spiking classifier head (``fc1`` -> spike -> ``fc2``).

    Args:
        layers: BasicBlocks per stage.
        widths: stage widths (the first stage has stride 1, the others 2).
        stem_width: channels of the 3x3 stem conv.
        hidden_dim: width of fc1; ``reset_classifier`` replaces ``fc2`` (hidden_dim -> classes).
        in_chans, num_classes, **snn_kwargs: see :class:`SpikingModel`.
    """

    classifier_name = "fc2"

    def __init__(
        self,
        layers: Sequence[int] = (3, 3, 2),
        widths: Sequence[int] = (128, 256, 512),
        stem_width: int = 64,
        hidden_dim: int = 256,
        in_chans: int = 3,
        num_classes: int = 10,
        **snn_kwargs,
    ):
        super().__init__(in_chans=in_chans, num_classes=num_classes, **snn_kwargs)
        self.conv1 = Conv2d(in_chans, stem_width, 3, padding=1, bias=False)
        self.bn1 = BatchNorm2d(stem_width)
        self.sn1 = self.make_neuron()

        self.feature_info = [dict(num_chs=stem_width, reduction=1, module="sn1")]
        self.feature_info += add_stages(self, BasicBlock, layers, widths, stem_width, 1, connect=None)
        inplanes = self.feature_info[-1]["num_chs"]
        self.num_stages = len(layers)

        self.fc1 = nn.Linear(inplanes, hidden_dim)
        self.fc1_sn = self.make_neuron()
        self.num_features = self.head_hidden_size = hidden_dim  # what the classifier fc2 sees
        self.fc2 = nn.Linear(hidden_dim, num_classes) if num_classes > 0 else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def feature_stages(self) -> list:
        """Stem (conv, BN, spike), then layer1, layer2, ... one block per residual block."""
        stages = [[(self.conv1, self.bn1, self.sn1)]]
        return stages + [list(getattr(self, f"layer{i + 1}")) for i in range(self.num_stages)]

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """[T, B, C, H, W] -> pool -> fc1 -> spike (over time) -> fc2: [T, B, classes]."""
        x = self.fc1_sn(self.fc1(x_seq.mean(dim=(-2, -1))))
        return x if pre_logits else self.fc2(x)


default_cfgs = generate_snn_default_cfgs(
    {
        "spiking_resnet19": snn_cfg(
            num_classes=10,
            input_size=(3, 32, 32),
            mean=CIFAR10_MEAN,
            std=CIFAR10_STD,
            crop_pct=1.0,
            first_conv="conv1",
            classifier="fc2",
            paper_ids=("arXiv:2011.05280", "arXiv:2202.11946"),
        ),
    }
)


# SAKD's ResNet-19 (Maybe2022/SAKD cifar/models/ResNet19_snn.py): head ``fc`` (512 -> 256) -> spike ->
# ``fc_``; ``transform1..3`` are the 1x1 conv + BN stage transforms of its feature-KD loss, not the model.
_SAKD_RULES = ((r"^fc_\.", "fc2."), (r"^fc\.", "fc1."))
_TRAINING_ONLY = (r"^transform\d+\.net\.",)


def checkpoint_filter_fn(state_dict: dict, model: SpikingResNet19) -> dict:
    """Map SAKD's official ResNet-19 checkpoint onto ``model`` (timm's pretrained filter); our own
    layout passes unchanged; anything else raises before a weight is copied."""
    rules = _SAKD_RULES if "fc_.weight" in state_dict else ()
    return port_state_dict(state_dict, model, rules, _TRAINING_ONLY)


def _create_resnet19(variant: str, pretrained: bool, **kwargs) -> SpikingResNet19:
    return build_snn_model(SpikingResNet19, variant, pretrained, pretrained_filter_fn=checkpoint_filter_fn, **kwargs)


@register_snn_model
def spiking_resnet19(pretrained: bool = False, **kwargs) -> SpikingResNet19:
    """ResNet-19 (CIFAR, TET style): 12.63M parameters at 10 classes."""
    model_args = dict(layers=(3, 3, 2), widths=(128, 256, 512), stem_width=64, hidden_dim=256)
    return _create_resnet19("spiking_resnet19", pretrained, **dict(model_args, **kwargs))
