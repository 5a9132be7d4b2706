"""timm's own feature tests, run on every registered zoo architecture at full width.

Equivalent of ``test_model_forward_features`` and ``test_model_forward_intermediates`` in timm's
tests/test_models.py (huggingface/pytorch-image-models): the same assertions (at least 3 feature
levels, one map per level with the declared channels, a spatial size within ``ceil(size /
reduction) + 1``, no NaN; ``forward_intermediates`` ending in ``forward_features``, also with
gradient checkpointing). timm shrinks inputs to 96 px; these run at the cfg's size up to 32 px
(never below the model's ``min_input_size``), T=1, batch 1, so the 52 models take well under a
minute per test on one thread. ``test_features.py`` checks values on tiny builds.
"""

from __future__ import annotations

import math

import pytest
import timm
import torch

import snn_zoo

ALL_MODELS = snn_zoo.list_models()
TARGET_SIZE = 32  # timm: TARGET_FFEAT_SIZE = 96; smaller here to keep CI fast on 2 cores


def _input(model: torch.nn.Module, batch_size: int = 1) -> torch.Tensor:
    """timm's ``_get_input_size(model, target)``: the cfg size, capped at ``TARGET_SIZE`` per side."""
    chans, *size = model.pretrained_cfg["input_size"]
    smallest = getattr(model, "model", model).min_input_size  # features_only: timm's FeatureGetterNet wraps it
    size = [max(min(s, TARGET_SIZE), smallest) for s in size]
    torch.manual_seed(0)
    return torch.randn(batch_size, chans, *size)


def _create(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return snn_zoo.create_model(name, T=1, **kwargs).eval()


def _check_maps(maps, channels, reductions, x):
    assert len(channels) == len(maps)
    for c, r, o in zip(channels, reductions, maps):
        assert c == o.shape[1]
        assert o.shape[2] <= math.ceil(x.shape[-2] / r) + 1
        assert o.shape[3] <= math.ceil(x.shape[-1] / r) + 1
        assert o.shape[0] == x.shape[0]
        assert not torch.isnan(o).any()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_forward_features(name, single_thread):
    model = _create(name, features_only=True)
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3  # timm: "all models here should have at least 3 default feat levels"
    x = _input(model)
    with torch.no_grad():
        _check_maps(model(x), channels, reductions, x)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_forward_intermediates(name, single_thread):
    model = _create(name)
    feature_info = timm.models.FeatureInfo(model.feature_info, len(model.feature_info))
    channels, reductions = feature_info.channels(), feature_info.reduction()
    assert len(channels) >= 3  # timm: "all models here should have at least 3 feature levels"
    x = _input(model)
    with torch.no_grad():
        output, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        _check_maps(intermediates, channels, reductions, x)
        assert torch.allclose(output, model.forward_features(x))
        model.set_grad_checkpointing()
        output3, _ = model.forward_intermediates(x, output_fmt="NCHW")
    assert torch.allclose(output, output3, rtol=1e-4, atol=1e-5)
