"""The torch kernel of IF/LIF/PLIF against spikingjelly 2.0's own neurons (autograd reference)."""

import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based import neuron as sj_neuron

from snn_zoo.neurons import SURROGATES, IFNode, LIFNode, PLIFNode, create_neuron

SJ_SURROGATE_ARGS = {name: (sg.sj_class, sg.default_alpha) for name, sg in SURROGATES.items()}


def _pair(kind, surrogate, v_reset, detach_reset, decay_input):
    sj_class, alpha = SJ_SURROGATE_ARGS[surrogate]
    common = dict(v_reset=v_reset, detach_reset=detach_reset)
    sj_common = dict(common, surrogate_function=sj_class(alpha=alpha), step_mode="m")
    if kind == "if":
        return IFNode(surrogate=surrogate, **common), sj_neuron.IFNode(**sj_common)
    if kind == "lif":
        return (
            LIFNode(tau=2.0, decay_input=decay_input, surrogate=surrogate, **common),
            sj_neuron.LIFNode(tau=2.0, decay_input=decay_input, **sj_common),
        )
    return (
        PLIFNode(tau=2.0, decay_input=decay_input, surrogate=surrogate, **common),
        sj_neuron.ParametricLIFNode(init_tau=2.0, decay_input=decay_input, **sj_common),
    )


@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_matches_spikingjelly(kind, surrogate, v_reset, detach_reset):
    for decay_input in [True, False] if kind != "if" else [True]:
        ours, theirs = _pair(kind, surrogate, v_reset, detach_reset, decay_input)
        torch.manual_seed(0)
        x = (torch.randn(5, 3, 17) * 1.5).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        s, s_ref = ours(x), theirs(x_ref)
        grad = torch.randn_like(s)
        (s * grad).sum().backward()
        (s_ref * grad).sum().backward()
        assert torch.equal(s, s_ref)
        assert 0 < s.mean() < 1, "test input should make some neurons fire and some not"
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.v, theirs.v)
        if kind == "plif":
            torch.testing.assert_close(ours.w.grad, theirs.w.grad, rtol=1e-5, atol=1e-6)


def test_single_step_mode_and_reset_net():
    node = LIFNode(step_mode="s")
    x = torch.full((4,), 1.5)
    spikes = [node(x) for _ in range(3)]  # h: 0.75, 1.125 (fire, reset), 0.75
    assert [s.sum().item() for s in spikes] == [0, 4, 0]
    functional.reset_net(node)
    assert node.v == 0.0


def test_half_precision_forward_backward():
    x = torch.randn(4, 8, dtype=torch.bfloat16, requires_grad=True)
    s = LIFNode()(x)
    s.sum().backward()
    assert s.dtype == torch.bfloat16 and x.grad.dtype == torch.bfloat16


def test_saves_one_time_by_neuron_tensor():
    x = torch.randn(6, 10, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        LIFNode()(x)
    big = [t for t in saved if t.numel() >= x.numel()]
    assert len(big) == 1 and big[0].shape == x.shape


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(neuron="lifx"), "choose one of"),
        (dict(surrogate="sigmod"), "Did you mean"),
        (dict(backend="cuda"), "choose one of"),
    ],
)
def test_bad_names(bad, match):
    with pytest.raises(ValueError, match=match):
        create_neuron(**bad)
