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


# -- issue 22: the constructors check every setting; soft reset by its dynamics ------------------------
@pytest.mark.parametrize("v_reset", [None, "soft"])
@pytest.mark.parametrize("cls", [IFNode, LIFNode, PLIFNode])
def test_soft_reset_keeps_v_minus_threshold(cls, v_reset):
    node = cls(v_reset=v_reset, v_threshold=1.0, **({} if cls is IFNode else dict(tau=2.0, decay_input=False)))
    assert node.v_reset is None
    spikes = node(torch.full((1, 4), 1.7))  # h = 1.7 (from rest, input not decayed): fires
    assert spikes.sum() == 4
    torch.testing.assert_close(node.v, torch.full((4,), 0.7))  # soft: h - v_threshold; hard would give 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(detach_reset="no"), "detach_reset must be True or False"),
        (dict(decay_input="False"), "decay_input must be True or False"),
        (dict(tau=float("inf")), "tau must be a finite number"),
        (dict(tau=float("nan")), "tau must be a finite number"),
        (dict(v_threshold=float("inf")), "v_threshold must be a finite number"),
        (dict(v_reset=float("-inf")), "v_reset must be a finite number"),
        (dict(v_reset="hard"), "v_reset must be a number .hard reset. or 'soft'"),
        (dict(v_reset=1.0), "v_reset must be below v_threshold"),
        (dict(v_threshold=0.0), "v_threshold must be a number > 0"),
        (dict(alpha=float("nan")), "alpha .surrogate sharpness. must be a finite number"),
        (dict(alpha=-1.0), "alpha .surrogate sharpness. must be > 0"),
        (dict(tau=1.0), "tau must be > 1"),
    ],
)
@pytest.mark.parametrize("route", ["class", "create_neuron"])
def test_meaningless_neuron_settings_are_refused(kwargs, message, route):
    with pytest.raises(ValueError, match=message):
        if route == "class":
            LIFNode(**kwargs)
        else:
            create_neuron("plif", **kwargs)
