"""Spike-driven Transformer (v1): parameter counts, official fixtures, the timm contract, SDSA."""

from __future__ import annotations

import pytest
import torch
from _transformer_contract import FIXTURES, check_contract, fixture_cases, fixture_max_diff, param_count

import snn_zoo
from snn_zoo.io import CheckpointError
from snn_zoo.io.checkpoint import read_state_dict
from snn_zoo.models.spike_driven_transformer import SpikeDrivenSelfAttention, checkpoint_filter_fn
from snn_zoo.neurons import neuron_factory

TINY = dict(embed_dim=32, depth=1, num_heads=2, T=2)


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize(
    "name, kwargs, paper_m",
    [
        ("spike_driven_transformer_8_384", {}, 16.81),
        ("spike_driven_transformer_6_512", {}, 23.37),
        ("spike_driven_transformer_8_512", {}, 29.68),
        ("spike_driven_transformer_10_512", {}, 36.01),
        ("spike_driven_transformer_8_768", {}, 66.34),
        ("spike_driven_transformer_2_512_cifar", dict(num_classes=100), 10.28),
    ],
)
def test_param_count_matches_paper(name, kwargs, paper_m):
    assert param_count(name, **kwargs) / 1e6 == pytest.approx(paper_m, rel=0.01)


@pytest.mark.parametrize("case", fixture_cases("spike_driven_transformer"), ids=lambda c: c["case"])
def test_official_fixture_reproduces_logits(case):
    assert fixture_max_diff(case) < 1e-5


def test_unused_talking_heads_are_dropped_and_a_wrong_mapping_fails():
    case = fixture_cases("spike_driven_transformer")[0]
    official = read_state_dict(FIXTURES / case["checkpoint"])
    assert any(k.endswith("talking_heads.weight") for k in official)
    model = snn_zoo.create_model(case["arch"], **case["model_kwargs"])
    mapped = checkpoint_filter_fn(official, model)
    assert not any("talking_heads" in k for k in mapped)
    # Swapping q and k must change the logits: the fixture is sensitive to the mapping.
    swapped = {k.replace(".q_", ".tmp_").replace(".k_", ".q_").replace(".tmp_", ".k_"): v for k, v in mapped.items()}
    model.load_state_dict(swapped)
    from safetensors.torch import load_file

    io = load_file(str(FIXTURES / case["io"]))
    with torch.no_grad():
        assert (model.eval()(io["input"]) - io["logits"]).abs().max() > 1e-4


def test_checkpoint_of_another_size_is_refused():
    case = fixture_cases("spike_driven_transformer")[0]
    with pytest.raises(CheckpointError):
        snn_zoo.create_model(
            case["arch"],
            pretrained=True,
            **{**case["model_kwargs"], "embed_dim": 64},
            pretrained_cfg_overlay=dict(file=str(FIXTURES / case["checkpoint"])),
        )


@pytest.mark.parametrize(
    "name, size",
    [
        ("spike_driven_transformer_8_384", (3, 32, 32)),
        ("spike_driven_transformer_6_512", (3, 32, 32)),
        ("spike_driven_transformer_8_512", (3, 32, 32)),
        ("spike_driven_transformer_10_512", (3, 32, 32)),
        ("spike_driven_transformer_8_768", (3, 32, 32)),
        ("spike_driven_transformer_2_256_cifar", (3, 16, 16)),
        ("spike_driven_transformer_2_512_cifar", (3, 16, 16)),
    ],
)
def test_timm_contract(name, size):
    model = snn_zoo.create_model(name, **TINY)
    check_contract(model, size, model.num_classes, linear_head=False)  # the head spikes before its Linear


def test_ann_twin_runs_once():
    model = snn_zoo.create_model("spike_driven_transformer_2_256_cifar", neuron="relu", **TINY).eval()
    assert model.T == 1
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 10)


def test_sdsa_is_masks_and_a_spike_sum():
    """out = q * spike_0.5(sum_tokens(k * v)): every product is between binary tensors."""
    attn = SpikeDrivenSelfAttention(8, 2, neuron_factory(neuron="lif", detach_reset=True)).eval()
    caps = {}
    for n in ("q_sn", "k_sn", "v_sn"):
        getattr(attn, n).register_forward_hook(lambda m, i, o, n=n: caps.__setitem__(n, o))
    attn.proj_conv.register_forward_hook(lambda m, i, o: caps.__setitem__("in", i[0]))
    with torch.no_grad():
        attn(torch.randn(1, 2, 8, 3, 3) * 3)

    def heads(t):
        return t.flatten(3).transpose(-1, -2).reshape(1, 2, 9, 2, 4).transpose(2, 3)

    q, k, v = (heads(caps[n]) for n in ("q_sn", "k_sn", "v_sn"))
    kv = ((k * v).sum(-2, keepdim=True) >= 1).float()  # one LIF step at threshold 0.5: sum / 2 >= 0.5
    assert set(caps["in"].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(caps["in"], (q * kv).transpose(3, 4).reshape(1, 2, 8, 3, 3))


def test_pooling_fixes_the_variant():
    with pytest.raises(ValueError, match="pooling="):
        snn_zoo.create_model("spike_driven_transformer_8_384", pooling="0011")
