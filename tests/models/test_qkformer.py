"""QKFormer: published parameter counts, official fixtures, the timm contract, Q-K token attention."""

from __future__ import annotations

import pytest
import torch
from _transformer_contract import FIXTURES, check_contract, fixture_cases, fixture_max_diff, param_count

import snn_zoo
from snn_zoo.io import CheckpointError
from snn_zoo.models.qkformer import QKTokenAttention
from snn_zoo.neurons import neuron_factory

TINY = dict(embed_dim=32, num_heads=2, T=2)


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize(
    "name, kwargs, paper_m",
    [
        ("qkformer_10_384", {}, 16.47),
        ("qkformer_10_512", {}, 29.08),
        ("qkformer_10_768", {}, 64.96),
        ("qkformer_4_384_cifar", dict(num_classes=100), 6.74),
    ],
)
def test_param_count_matches_paper(name, kwargs, paper_m):
    assert param_count(name, **kwargs) / 1e6 == pytest.approx(paper_m, rel=0.01)


@pytest.mark.parametrize("case", fixture_cases("qkformer"), ids=lambda c: c["case"])
def test_official_fixture_reproduces_logits(case):
    assert fixture_max_diff(case) < 1e-5


def test_batch_as_time_quirk_is_needed_only_for_batches():
    """The official stage-3 projection neuron runs over T * B: our default matches it for one image,
    ``proj_over_batch=True`` for a batch (in order), and the two differ on a batch."""
    case = next(c for c in fixture_cases("qkformer") if c["model_kwargs"].get("proj_over_batch"))
    assert case["io"] and fixture_max_diff(case) < 1e-5
    kwargs = {k: v for k, v in case["model_kwargs"].items() if k != "proj_over_batch"}
    file = str(FIXTURES / case["checkpoint"])
    plain = snn_zoo.create_model(case["arch"], pretrained=True, pretrained_cfg_overlay=dict(file=file), **kwargs).eval()
    quirk = snn_zoo.create_model(
        case["arch"], pretrained=True, pretrained_cfg_overlay=dict(file=file), proj_over_batch=True, **kwargs
    ).eval()
    x = torch.rand(3, 3, 32, 32) * 2
    with torch.no_grad():
        assert torch.equal(plain(x[:1]), quirk(x[:1]))
        assert not torch.equal(plain(x)[1:], quirk(x)[1:])


def test_checkpoint_of_another_family_is_refused():
    sdt = next(c for c in fixture_cases("spike_driven_transformer"))
    with pytest.raises(CheckpointError):
        snn_zoo.create_model(
            "qkformer_10_384",
            pretrained=True,
            embed_dim=32,
            depths=[1, 2, 1],
            num_heads=2,
            num_classes=7,
            pretrained_cfg_overlay=dict(file=str(FIXTURES / sdt["checkpoint"])),
        )


@pytest.mark.parametrize(
    "name, size",
    [
        ("qkformer_10_384", (3, 32, 32)),
        ("qkformer_10_512", (3, 32, 32)),
        ("qkformer_10_768", (3, 32, 32)),
        ("qkformer_4_384_cifar", (3, 16, 16)),
    ],
)
def test_timm_contract(name, size):
    model = snn_zoo.create_model(name, depths=(1, 1, 1), **TINY)
    check_contract(model, size, model.num_classes, linear_head=True)
    assert model.forward_features(torch.rand(1, *size)).shape[-1] == size[-1] // (16 if "cifar" not in name else 4)


def test_ann_twin_runs_once():
    model = snn_zoo.create_model("qkformer_4_384_cifar", depths=(1, 1, 1), neuron="relu", **TINY).eval()
    assert model.T == 1
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 10)


def test_token_attention_is_a_binary_token_gate():
    """Per head, a token passes k where the channel-sum of q crosses the 0.5 threshold (one step:
    LIF charge sum / 2 >= 0.5, i.e. sum >= 1); tokens whose q is silent are zeroed."""
    attn = QKTokenAttention(8, 2, neuron_factory(neuron="lif", detach_reset=True)).eval()
    caps = {}
    attn.q_sn.register_forward_hook(lambda m, i, o: caps.__setitem__("q", o))
    attn.k_sn.register_forward_hook(lambda m, i, o: caps.__setitem__("k", o))
    attn.proj_conv.register_forward_hook(lambda m, i, o: caps.__setitem__("in", i[0]))
    with torch.no_grad():
        attn(torch.randn(1, 2, 8, 3, 3) * 3)
    q, k = caps["q"].reshape(1, 2, 2, 4, 9), caps["k"].reshape(1, 2, 2, 4, 9)
    gate = (q.sum(3, keepdim=True) >= 1).float()
    assert torch.equal(caps["in"], (gate * k).reshape(1, 2, 8, 9))


def test_tags_carry_official_settings():
    cfg = snn_zoo.create_model("qkformer_10_384.official_in1k", **TINY, depths=(1, 1, 1)).pretrained_cfg
    assert cfg["hf_hub_id"] == "snn-zoo/qkformer_10_384.official_in1k"
    assert "78.80" in cfg["notes"] and cfg["origin_url"].startswith("https://github.com/zhouchenlin2096/QKFormer")
    model = snn_zoo.create_model("qkformer_4_384_cifar.official_cifar100", embed_dim=32, num_heads=2, depths=(1, 1, 1))
    assert model.num_classes == 100 and model.snn_args["T"] == 4 and model.snn_args["detach_reset"]
