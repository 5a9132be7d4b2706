"""Meta-SpikeFormer (Spike-driven Transformer v2): parameter counts, official fixtures, timm contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _transformer_contract import check_contract, fixture_cases, fixture_max_diff, param_count

import snn_zoo
from snn_zoo.models.meta_spikeformer import PadBatchNorm2d

TINY = dict(embed_dims=(8, 8, 16, 16), depths=(1, 1, 1, 1, 1), num_heads=2, T=2)


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize(
    "name, paper_m",
    [
        ("meta_spikeformer_15m", 15.1),
        ("meta_spikeformer_31m", 31.3),
        ("meta_spikeformer_55m", 55.4),
    ],
)
def test_param_count_matches_paper(name, paper_m):
    assert param_count(name) / 1e6 == pytest.approx(paper_m, rel=0.01)


@pytest.mark.parametrize("case", fixture_cases("meta_spikeformer"), ids=lambda c: c["case"])
def test_official_fixture_reproduces_logits(case):
    assert fixture_max_diff(case) < 1e-5


@pytest.mark.parametrize("name", ["meta_spikeformer_15m", "meta_spikeformer_31m", "meta_spikeformer_55m"])
def test_timm_contract(name):
    model = snn_zoo.create_model(name, **TINY)
    check_contract(model, (3, 32, 32), 1000, linear_head=False)  # the head spikes before its Linear
    assert model.forward_features(torch.rand(1, 3, 32, 32)).shape == (1, 16, 2, 2)


def test_distilled_head_averages_both_heads():
    model = snn_zoo.create_model("meta_spikeformer_55m", distilled=True, num_classes=5, **TINY).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        feats = model.forward_features_seq(model.to_sequence(x))
        s = model.head_sn(feats.mean((-2, -1)))
        expected = ((model.head(s) + model.head_kd(s)) / 2).mean(0)
        assert torch.allclose(model(x), expected, atol=1e-6)
    model.reset_classifier(3)
    assert model.head_kd.out_features == 3


def test_ann_twin_runs_once():
    model = snn_zoo.create_model("meta_spikeformer_15m", neuron="relu", **TINY).eval()
    assert model.T == 1 and model(torch.rand(1, 3, 32, 32)).shape == (1, 1000)


def test_pad_batchnorm_equals_bn_of_a_zero_padded_input():
    """The official BNAndPadLayer: BN, then pad with BN(0) = a zero-padded input through the BN."""
    bn = PadBatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 2), bn.bias.normal_()
    x = torch.randn(2, 4, 5, 5)
    ref = F.batch_norm(F.pad(x, [1] * 4), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    assert torch.allclose(bn(x), ref, atol=1e-6)


def test_distilled_checkpoint_needs_the_distilled_model():
    from _transformer_contract import FIXTURES

    from snn_zoo.io import CheckpointError

    case = next(c for c in fixture_cases("meta_spikeformer") if c["model_kwargs"].get("distilled"))
    kwargs = {k: v for k, v in case["model_kwargs"].items() if k != "distilled"}
    with pytest.raises(CheckpointError, match="distilled=True"):
        snn_zoo.create_model(
            case["arch"],
            pretrained=True,
            pretrained_cfg_overlay=dict(file=str(FIXTURES / case["checkpoint"])),
            **kwargs,
        )


def test_the_distilled_tag_builds_two_heads():
    assert snn_zoo.create_model("meta_spikeformer_55m.official_kd_in1k", **TINY).head_kd is not None
    assert snn_zoo.create_model("meta_spikeformer_55m", **TINY).head_kd is None
