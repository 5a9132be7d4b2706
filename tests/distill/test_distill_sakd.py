"""SAKD: ANN -> SNN weight transfer and the stage feature loss."""

import pytest
import timm
import torch
import torch.nn as nn

import snn_zoo
from snn_zoo.distill import StageFeatureKD, transfer_ann_weights


def test_transfer_from_ann_twin_copies_every_tensor():
    torch.manual_seed(0)
    ann = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    snn = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    with torch.no_grad():
        for p in ann.parameters():
            p.add_(1.0)  # make sure the two models differ before the transfer
    report = transfer_ann_weights(ann, snn)
    ann_sd, snn_sd = ann.state_dict(), snn.state_dict()
    assert sorted(report.copied) == sorted(snn_sd) == sorted(ann_sd)
    assert report.complete and not report.missing_in_ann and not report.shape_mismatch and not report.unused_ann
    for k in snn_sd:
        assert torch.equal(ann_sd[k], snn_sd[k]), k
    assert f"copied {len(snn_sd)}/{len(snn_sd)}" in str(report)


def test_transfer_timm_resnet18_into_sew_resnet18():
    ann = timm.create_model("resnet18", num_classes=10)
    snn = snn_zoo.create_model("sew_resnet18", num_classes=10, neuron="if", T=1)
    report = transfer_ann_weights(ann, snn)
    ann_sd, snn_sd = ann.state_dict(), snn.state_dict()
    conv_bn_fc = [k for k in ann_sd if k.startswith(("conv1", "bn1", "layer", "fc"))]
    assert conv_bn_fc and sorted(report.copied) == sorted(conv_bn_fc) == sorted(ann_sd)
    assert report.complete
    assert all(torch.equal(ann_sd[k], snn_sd[k]) for k in report.copied)


def test_transfer_reports_shape_mismatch_and_extras():
    ann = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", num_classes=5)
    ann.extra = nn.Linear(2, 2)
    snn = snn_zoo.create_model("spiking_cnn_tiny", neuron="plif", T=2)
    report = transfer_ann_weights(ann, snn)
    assert {k for k, _, _ in report.shape_mismatch} == {"fc.weight", "fc.bias"}
    assert sorted(report.unused_ann) == ["extra.bias", "extra.weight"]
    assert report.missing_in_ann and all(k.endswith(".w") for k in report.missing_in_ann)  # PLIF's 1/tau
    text = str(report)
    assert "shape mismatch (2)" in text and "fc.weight: ann (5, 32) vs snn (10, 32)" in text


def test_stage_feature_kd_shapes_and_gradients():
    kd = StageFeatureKD([4, 8], [6, 8])
    conv, bn = kd.transforms[0]
    assert isinstance(conv, nn.Conv2d) and conv.bias is None and conv.kernel_size == (1, 1)
    assert isinstance(bn, nn.BatchNorm2d) and bn.num_features == 6
    s = [torch.rand(3, 2, 4, 4, 4, requires_grad=True), torch.rand(3, 2, 8, 2, 2, requires_grad=True)]
    t = [torch.randn(2, 6, 2, 2, requires_grad=True), torch.randn(1, 2, 8, 2, 2)]  # ANN twin: [1, B, ...]
    loss = kd(s, t)
    assert loss.dim() == 0
    loss.backward()
    assert s[0].grad is not None and t[0].grad is None
    with pytest.raises(ValueError, match="stage 1"):
        kd(s, [t[0], torch.randn(2, 7, 2, 2)])
    with pytest.raises(ValueError):
        StageFeatureKD([4], [4, 8])
