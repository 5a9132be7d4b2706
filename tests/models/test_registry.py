"""Registry-wide contract of every snn_zoo architecture (timm API + SNN extensions).

Kept fast on 2 CPU cores: structure-only checks build on the meta device (no init, no memory);
forward passes use tiny inputs at T=2, the full neuron sweep only on small models and on the
smallest model of each family, forward-only for models over 20M parameters.
"""

from __future__ import annotations

import functools
import sys

import pytest
import timm
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional
from timm.models import get_pretrained_cfg, model_entrypoint

import snn_zoo
from snn_zoo.models import SNN_MODELS

ALL_MODELS = snn_zoo.list_models()
NEURONS = ("if", "lif", "plif", "relu")

# Published parameter counts (M, at the default num_classes: 1000 ImageNet, 10 CIFAR).
PUBLISHED_PARAMS_M = {
    "sew_resnet18": 11.69,
    "sew_resnet152": 60.19,
    "spiking_resnet18": 11.69,
    "spikformer_8_384": 16.81,
    "spikformer_8_512": 29.68,
    "spikformer_8_768": 66.34,
    "spikformer_4_384_cifar": 9.32,
    "spikingformer_8_384": 16.81,
    "spikingformer_8_512": 29.68,
    "spikingformer_8_768": 66.34,
    "spikingformer_4_256_cifar": 4.15,
    "spikingformer_2_384_cifar": 5.76,
    "spikingformer_4_384_cifar": 9.32,
}
SMALL, LARGE = 1_000_000, 20_000_000


pytestmark = pytest.mark.usefixtures("single_thread")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_model(name: str, **kwargs) -> nn.Module:
    """Build without allocating or initialising weights: for structure-only checks."""
    with torch.device("meta"):
        return snn_zoo.create_model(name, **kwargs)


@functools.cache
def default_params(name: str) -> int:
    return n_params(meta_model(name))


def family(name: str) -> str:
    return model_entrypoint(name).__module__


def smallest_per_family() -> list[str]:
    best: dict[str, str] = {}
    for name in ALL_MODELS:
        fam = family(name)
        if fam not in best or default_params(name) < default_params(best[fam]):
            best[fam] = name
    return sorted(best.values())


REPRESENTATIVES = smallest_per_family()  # one small model per family file
LINEAR_HEAD = [n for n in REPRESENTATIVES if n != "spiking_resnet19"]


def tiny_input(name: str, batch: int = 2) -> torch.Tensor:
    """A small input at the configured channel count: digit sizes as is, CIFAR at 8, ImageNet at 32."""
    c, h, _ = get_pretrained_cfg(name).input_size
    size = h if h <= 16 else (8 if h <= 32 else 32)
    return torch.rand(batch, c, size, size)


def run_plan(name: str) -> list[tuple[str, bool]]:
    """(neuron, backward?) runs for a model: every model gets at least a forward; every family
    a full neuron sweep with backward on its smallest model."""
    count = default_params(name)
    if count < SMALL or name in REPRESENTATIVES:
        return [(n, True) for n in NEURONS]
    return [("lif", count <= LARGE)]


# -- construction --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_MODELS)
def test_timm_and_snn_zoo_build_the_same_model(name: str) -> None:
    with torch.device("meta"):
        ours, theirs = snn_zoo.create_model(name), timm.create_model(name)
    assert type(ours) is type(theirs)
    assert n_params(ours) == n_params(theirs)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    for neuron, backward in run_plan(name):
        model = snn_zoo.create_model(name, T=2, neuron=neuron)
        x = tiny_input(name, batch=1 if default_params(name) > SMALL else 2)
        with torch.set_grad_enabled(backward):
            out = model(x)
        assert out.shape == (x.shape[0], model.num_classes), neuron
        assert torch.isfinite(out).all(), neuron
        if backward:
            # (out - 1)^2, not out^2: a head fed by silent spikes outputs exactly its bias, which is zero at
            # init in Meta-SpikeFormer (official init), and out^2 then has a zero gradient everywhere.
            (out - 1).square().mean().backward()
            grads = [p.grad for p in model.parameters() if p.requires_grad]
            assert all(g is not None for g in grads), f"{neuron}: parameters without gradient"
            assert any(g.abs().sum() > 0 for g in grads), f"{neuron}: all gradients are zero"


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS_M))
def test_parameter_count_matches_paper(name: str) -> None:
    assert round(default_params(name) / 1e6, 2) == PUBLISHED_PARAMS_M[name]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_ann_twin_has_the_snn_state_dict_keys(name: str) -> None:
    snn = meta_model(name, neuron="lif")
    ann = meta_model(name, neuron="relu")
    assert list(snn.state_dict()) == list(ann.state_dict())
    assert ann.T == 1


@pytest.mark.parametrize("name", ALL_MODELS)
def test_pretrained_cfg_points_at_real_modules(name: str) -> None:
    model = meta_model(name)
    cfg = model.pretrained_cfg
    assert cfg["architecture"] == name
    assert cfg["num_classes"] == model.num_classes
    assert cfg["input_size"][0] == model.in_chans
    assert isinstance(model.get_submodule(cfg["first_conv"]), nn.Conv2d)
    assert cfg["classifier"] == model.classifier_name
    assert model.get_submodule(cfg["classifier"]) is model.get_classifier()
    for info in model.feature_info:
        model.get_submodule(info["module"])


# -- registry --------------------------------------------------------------------------------------
def test_no_name_collides_with_a_timm_builtin() -> None:
    # timm overwrites a re-registered name and drops the built-in's registry entries, so look for
    # the built-in entrypoint functions in timm's own model modules instead.
    from timm.models._registry import _model_entrypoints

    timm_modules = [m for n, m in list(sys.modules.items()) if n.startswith("timm.models.") and m is not None]
    shadowed = {n for m in timm_modules for n in SNN_MODELS if callable(getattr(m, n, None))}
    assert not shadowed
    assert all(_model_entrypoints[n].__module__.startswith("snn_zoo.") for n in SNN_MODELS)


def test_list_models_lists_only_snn_zoo() -> None:
    assert set(ALL_MODELS) == SNN_MODELS
    assert "resnet18" in timm.list_models("resnet18") and "resnet18" not in ALL_MODELS
    assert set(snn_zoo.list_models("spikformer_*")) == {n for n in SNN_MODELS if n.startswith("spikformer_")}


def test_is_model() -> None:
    assert snn_zoo.is_model("spikformer_8_384")
    assert snn_zoo.is_model("spiking_resnet19.some_tag")
    assert not snn_zoo.is_model("resnet18")
    assert not snn_zoo.is_model("spikformer_9_999")


def test_unknown_model_names_close_matches() -> None:
    with pytest.raises(ValueError, match="spikformer_8_384"):
        snn_zoo.create_model("spikformer_8_385")


@pytest.mark.parametrize(
    "kwargs, choice",
    [
        (dict(neuron="lifx"), "'plif'"),
        (dict(surrogate="sigmod"), "'atan'"),
        (dict(backend="cuda"), "'cupy'"),
    ],
)
def test_unknown_snn_settings_list_choices(kwargs: dict, choice: str) -> None:
    with pytest.raises(ValueError, match=choice):
        snn_zoo.create_model("spikformer_2_64_digits", **kwargs)


@pytest.mark.parametrize("T", [0, -1])
def test_time_steps_below_one_are_rejected(T: int) -> None:
    with pytest.raises(ValueError, match="T"):
        snn_zoo.create_model("spikingformer_2_64_digits", T=T)


# -- forward contract, one small model per family ------------------------------------------------------
@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_bad_input_shapes_state_the_expected_shape(name: str) -> None:
    model = snn_zoo.create_model(name, T=2)
    c = model.in_chans
    with pytest.raises(ValueError, match=rf"\[B, {c}, H, W\]"):
        model(torch.rand(c, 8, 8))
    with pytest.raises(ValueError, match=f"Expected {c} input channels"):
        model(torch.rand(1, c + 1, 8, 8))


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_state_is_reset_between_calls(name: str) -> None:
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, T=2).eval()
    x = tiny_input(name)
    with torch.no_grad():
        first, second = model(x), model(x)
        functional.reset_net(model)
        third = model(x)
    assert torch.equal(first, second) and torch.equal(first, third)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_event_frames_equal_the_repeated_image(name: str) -> None:
    model = snn_zoo.create_model(name, T=2).eval()
    x = tiny_input(name)
    events = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)  # [T, B, C, H, W]
    with torch.no_grad():
        assert torch.allclose(model(events), model(x))
    with pytest.raises(ValueError, match="time-first"):  # another number of frames than T (issue 22)
        model(events[:1])


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_forward_features_and_head(name: str) -> None:
    model = snn_zoo.create_model(name, T=2).eval()
    x = tiny_input(name)
    with torch.no_grad():
        logits = model(x)
        feats = model.forward_features(x)
        functional.reset_net(model)
        seq = model.forward_features_seq(model.to_sequence(x))
        from_seq = model.forward_head(seq)
        pre = model.forward_head(seq, pre_logits=True)
    assert feats.dim() == 4 and feats.shape[:2] == (x.shape[0], model.feature_info[-1]["num_chs"])
    assert torch.allclose(from_seq, logits, atol=1e-6)  # the head on the sequence is exact for every model
    assert pre.shape == (x.shape[0], model.num_features)


@pytest.mark.parametrize("name", LINEAR_HEAD)
def test_linear_head_on_time_averaged_features(name: str) -> None:
    model = snn_zoo.create_model(name, T=2).eval()
    x = tiny_input(name)
    with torch.no_grad():
        assert torch.allclose(model.forward_head(model.forward_features(x)), model(x), atol=1e-5)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_reset_classifier(name: str) -> None:
    model = snn_zoo.create_model(name, T=2).eval()
    x = tiny_input(name)
    model.reset_classifier(5)
    assert model.get_classifier() is getattr(model, model.pretrained_cfg["classifier"])
    with torch.no_grad():
        assert model(x).shape == (x.shape[0], 5)
        model.reset_classifier(0)
        assert model(x).shape == (x.shape[0], model.num_features)
