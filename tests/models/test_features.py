"""timm's feature-extraction contract on every family, with timm's own checks at tiny sizes.

Mirrors test_model_forward_features, test_model_forward_intermediates and
test_model_forward_intermediates_features of timm's tests/test_models.py, then checks values:
intermediates equal forward_features, pruning and stop_early keep them, NHWC is a permute.
"""

from __future__ import annotations

import math

import pytest
import timm
import torch
from tiny_models import TINY

import snn_zoo

NAMES = sorted(TINY)


def _create(name, **kwargs):
    model_kwargs, _ = TINY[name]
    torch.manual_seed(0)
    return snn_zoo.create_model(name, T=2, **model_kwargs, **kwargs).eval()


def _input(name, batch_size=2):
    torch.manual_seed(1)
    return torch.rand(batch_size, *TINY[name][1]) * 2


def _check_maps(outputs, channels, reductions, input_size, batch_size):
    assert len(channels) == len(outputs)
    for e, r, o in zip(channels, reductions, outputs):
        assert e == o.shape[1]
        assert o.shape[2] <= math.ceil(input_size[0] / r) + 1
        assert o.shape[3] <= math.ceil(input_size[1] / r) + 1
        assert o.shape[0] == batch_size
        assert not torch.isnan(o).any()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("feature_cls", [None, "getter"])
def test_model_forward_features(name, feature_cls):
    # timm: test_model_forward_features / test_model_forward_intermediates_features
    extra = {} if feature_cls is None else {"feature_cls": feature_cls}
    model = _create(name, features_only=True, **extra)
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3
    x = _input(name)
    with torch.no_grad():
        outputs = model(x)
    _check_maps(outputs, channels, reductions, x.shape[-2:], x.shape[0])


@pytest.mark.parametrize("name", NAMES)
def test_model_forward_intermediates(name):
    # timm: test_model_forward_intermediates, plus value checks.
    model = _create(name)
    feature_info = timm.models.FeatureInfo(model.feature_info, len(model.feature_info))
    channels, reductions = feature_info.channels(), feature_info.reduction()
    assert len(channels) >= 3
    x = _input(name)
    with torch.no_grad():
        output, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        _check_maps(intermediates, channels, reductions, x.shape[-2:], x.shape[0])
        assert torch.allclose(output, model.forward_features(x))
        assert torch.equal(intermediates[-1], output)  # the last level is the feature map itself
        assert torch.equal(model(x), model.forward_head(output))
        nhwc = model.forward_intermediates(x, indices=[0], output_fmt="NHWC", intermediates_only=True)
        assert torch.equal(nhwc[0], intermediates[0].permute(0, 2, 3, 1))
        early, first = model.forward_intermediates(x, indices=[1], stop_early=True)
        assert torch.equal(first[0], intermediates[1]) and torch.equal(early, intermediates[1])
        model.set_grad_checkpointing()
        output3, _ = model.forward_intermediates(x, output_fmt="NCHW")
    assert torch.allclose(output, output3, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_prune_intermediate_layers(name):
    model = _create(name)
    x = _input(name)
    with torch.no_grad():
        full = model.forward_intermediates(x, intermediates_only=True)
        n_params = sum(p.numel() for p in model.parameters())
        kept = model.prune_intermediate_layers(indices=[0, 1])
        pruned = model.forward_intermediates(x, intermediates_only=True)
    assert kept == [0, 1] and len(pruned) == 2
    assert all(torch.equal(a, b) for a, b in zip(pruned, full[:2]))
    assert sum(p.numel() for p in model.parameters()) < n_params  # later stages and the head are gone


def test_features_only_out_indices_and_transformer_default():
    cnn = _create("sew_resnet18", features_only=True, out_indices=(1, 3))
    assert cnn.feature_info.reduction() == [4, 16]
    vit_like = _create("spikformer_2_64_digits", features_only=True)
    # the last 3 levels: the tokenizer's RPE and the two blocks
    assert vit_like.feature_info.module_name() == ["patch_embed.rpe", "blocks.0", "blocks.1"]


# name -> (reduction, channels) per feature level of the tiny builds: tokenizer stages, then blocks.
TOKENIZER_LEVELS = {
    "spikformer_2_64_digits": ([1, 1, 1, 2, 2, 2, 2], [4, 8, 16, 32, 32, 32, 32]),  # 4 stages + RPE, 2 blocks
    "spikingformer_2_64_digits": ([1, 1, 1, 1, 2, 2, 2], [4, 8, 16, 32, 32, 32, 32]),  # pool opens stage 4
    "spike_driven_transformer_2_256_cifar": ([4, 4, 4], [32, 32, 32]),  # the stem is one level
}


@pytest.mark.parametrize("name", sorted(TOKENIZER_LEVELS))
def test_transformer_levels_start_at_the_tokenizer(name):
    model = _create(name)
    reductions, channels = TOKENIZER_LEVELS[name]
    assert [i["reduction"] for i in model.feature_info] == reductions
    assert [i["num_chs"] for i in model.feature_info] == channels
    x = _input(name)
    with torch.no_grad():
        maps = model.forward_intermediates(x, intermediates_only=True)
    size = x.shape[-1]
    assert [size // m.shape[-1] for m in maps] == reductions and [m.shape[1] for m in maps] == channels
