"""ResNet-19 (CIFAR, TET style): structure and its non-linear spiking head."""

from __future__ import annotations

import torch
import torch.nn as nn
from spikingjelly.activation_based import base, functional

import snn_zoo


def test_structure() -> None:
    with torch.device("meta"):
        model = snn_zoo.create_model("spiking_resnet19")
    assert model.conv1.out_channels == 64 and model.conv1.stride == (1, 1)
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [3, 3, 2]
    # timm's level 0 is the stem activation (64 channels), then the three stages.
    assert [info["num_chs"] for info in model.feature_info] == [64, 128, 256, 512]
    assert [info["reduction"] for info in model.feature_info] == [1, 1, 2, 4]
    assert model.layer1[0].downsample is not None  # 64 -> 128 projection shortcut
    assert model.layer1[0].connect is None  # Spiking-ResNet residual: add, then fire
    assert (model.fc1.in_features, model.fc1.out_features) == (512, 256)
    assert (model.fc2.in_features, model.fc2.out_features) == (256, 10)
    assert isinstance(model.fc1_sn, base.MemoryModule)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 12.63


def test_head_spikes_over_time() -> None:
    """fc1's neuron integrates over T: the head on the sequence differs from per-step heads."""
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_resnet19", T=4, widths=(16, 32, 64), stem_width=8, hidden_dim=16).eval()
    feats = torch.rand(4, 2, 64, 2, 2) * 4
    with torch.no_grad():
        whole = model.head_seq(feats)
        per_step = []
        for t in range(4):
            functional.reset_net(model)
            per_step.append(model.head_seq(feats[t : t + 1]))
    assert whole.shape == (4, 2, 10)
    assert not torch.allclose(whole, torch.cat(per_step))
    model.reset_classifier(3)
    assert isinstance(model.fc2, nn.Linear) and (model.fc2.in_features, model.fc2.out_features) == (16, 3)
