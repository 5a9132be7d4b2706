"""Registered entrypoints name their variant literally and refuse args that would make another variant."""

from __future__ import annotations

import inspect

import pytest
import torch
from timm.models import model_entrypoint

import snn_zoo


@pytest.mark.parametrize("name", snn_zoo.list_models())
def test_entrypoint_names_its_variant_literally(name: str) -> None:
    """No variant name is assembled from arguments (the old ``_sew(18, stem=...)`` picked the cfg that way)."""
    source = inspect.getsource(model_entrypoint(name))
    assert f'"{name}"' in source
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    assert model.pretrained_cfg["architecture"] == name


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("sew_resnet18", dict(stem="cifar")),  # used to build sew_resnet18_cifar silently
        ("sew_resnet18_cifar", dict(stem="imagenet")),
        ("spiking_resnet50", dict(stem="cifar")),
        ("spiking_resnet18", dict(connect="ADD")),  # a SEW residual is the sew_resnet* family
        ("sew_resnet10_digits", dict(stem="imagenet")),
        ("spikformer_8_384", dict(pool_stages=(2, 3))),  # a CIFAR token grid under the ImageNet cfg
        ("spikingformer_4_256_cifar", dict(pool_stages=(0, 1, 2, 3))),
        ("qkformer_10_384", dict(cifar=True)),
    ],
)
def test_args_that_pick_another_variant_raise(name: str, kwargs: dict) -> None:
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=rf"{name} is defined by {key}="):
        snn_zoo.create_model(name, **kwargs)


def test_sew_resnet_connect_stays_a_sew_function() -> None:
    with pytest.raises(ValueError, match="SEW ResNet"):
        model_entrypoint("sew_resnet18")(connect=None)


def test_agreeing_or_size_args_still_pass() -> None:
    """Repeating a variant's own value (a list for a tuple too) and timm-style size overrides are fine."""
    with torch.device("meta"):
        model = snn_zoo.create_model("sew_resnet18_cifar", stem="cifar", connect="IAND")
        assert model.pretrained_cfg["architecture"] == "sew_resnet18_cifar" and model.connect == "IAND"
        model = snn_zoo.create_model("spikformer_4_384_cifar", pool_stages=[2, 3], embed_dim=64, depth=1, num_heads=4)
        assert model.embed_dim == 64
