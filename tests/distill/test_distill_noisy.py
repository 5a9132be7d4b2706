"""Noisy single-step training: the conversion rule of snn_zoo.distill.noisy and its hooks."""

import pytest
import torch
from spikingjelly.activation_based.functional import reset_net

import snn_zoo
from snn_zoo.distill import (
    CONVERSION_NEURON,
    NoiseAveraged,
    conversion_neuron_problems,
    noisy_single_step,
    to_multi_step,
)
from snn_zoo.neurons import IFNode, MultiStepNeuron

RULE = CONVERSION_NEURON


def _hooks(model):
    return sum(len(m._forward_pre_hooks) for m in model.modules() if isinstance(m, MultiStepNeuron))


def _rule_if(v_threshold=1.0, v_init=None):
    return IFNode(v_threshold=v_threshold, v_reset=None, v_init=v_threshold / 2 if v_init is None else v_init)


def _rate(neuron, x, N):
    """Firing rate of ``neuron`` over N steps of the constant input x (direct encoding)."""
    neuron.reset()
    return neuron(x.expand(N, *x.shape)).mean(0)


def test_t1_noise_makes_the_expected_spike_the_clamped_input():
    # P(spike | x) = P(theta/2 + x + u >= theta), u ~ U[-theta/2, theta/2) = clamp(x / theta, 0, 1).
    theta, draws = 2.0, 40_000
    x = torch.linspace(-0.5, 2.5, 13)
    neuron = _rule_if(theta).train()
    gen = torch.Generator().manual_seed(0)
    with noisy_single_step(neuron, generator=gen):
        spikes = neuron(x.expand(1, draws, -1))[0]  # one time step, `draws` samples
    neuron.reset()
    expected = (x / theta).clamp(0, 1)
    # Monte Carlo: the sample mean's standard deviation is at most 0.5 / sqrt(draws) = 0.0025.
    torch.testing.assert_close(spikes.mean(0), expected, atol=0.0125, rtol=0)
    # The same draws, bit for bit: the hook adds (rand - 0.5) * scale * theta to the input.
    u = torch.rand((1, draws, x.numel()), generator=torch.Generator().manual_seed(0)) - 0.5
    assert torch.equal(spikes, ((theta / 2 + (x + theta * u)) >= theta).float()[0])


@pytest.mark.parametrize("N", [1, 2, 4, 8, 16])
def test_converted_neuron_rates_are_within_half_a_step(N):
    # Every input on a fine grid, ties (x = (k + 1/2) / N) included: |rate_N - clamp(x, 0, 1)| <= 1 / (2N).
    x = torch.linspace(-0.5, 1.5, 2001, dtype=torch.float64)
    neuron = _rule_if().double().eval()
    err = (_rate(neuron, x, N) - x.clamp(0, 1)).abs().max().item()
    assert err <= 1 / (2 * N) + 1e-9
    # The bound is the rule's, not slack: without v_init = theta/2 the rate rounds down and misses it.
    off = (_rate(_rule_if(v_init=0.0).double().eval(), x, N) - x.clamp(0, 1)).abs().max().item()
    assert off > 1 / (2 * N) + 0.1 / N


@pytest.mark.parametrize("N", [2, 4, 8, 16])
def test_converted_layer_reproduces_the_t1_layer(N):
    # A trained layer (conv -> BN -> IF): its T=N rates equal the T=1 layer's expected output, clamp(BN(conv x)),
    # within 1 / (2N), for a real image batch.
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=1, **RULE).double()
    with torch.no_grad():  # a BN that puts the pre-activations across [0, theta] and beyond
        model.stem.bn.weight.uniform_(0.3, 1.5)
        model.stem.bn.bias.uniform_(-0.2, 0.8)
    model.eval()
    x = torch.rand(8, 1, 8, 8, dtype=torch.float64)
    stem = model.stem
    with torch.no_grad():
        expected = _layer_drive(stem, x).clamp(0, 1)  # the T=1 layer's expected output under the noise
        to_multi_step(model, N)
        rates = stem(x.expand(N, *x.shape)).mean(0)
    assert expected.min() == 0 and expected.max() == 1 and ((expected > 0) & (expected < 1)).float().mean() > 0.3
    assert (rates - expected).abs().max().item() <= 1 / (2 * N) + 1e-9


def _layer_drive(block, x):
    """The input current a ConvBnSpike block's neuron gets for image batch x (time step 1)."""
    captured = {}
    handle = block.sn.register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0]))
    reset_net(block)
    block(x.unsqueeze(0))
    handle.remove()
    reset_net(block)
    return captured["x"][0]


def test_noise_only_in_training_single_step_and_removed():
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=1, **RULE).train()
    x = torch.rand(4, 1, 8, 8) * 3
    clean = model(x)
    with noisy_single_step(model) as noisy:
        assert noisy.active and _hooks(model) == len(noisy.neurons) > 0
        assert not torch.equal(model(x), clean)
        model.eval()
        eval_clean = model(x)  # eval mode: no noise
        model.train()
        to_multi_step(model, 3)
        multi = model(x)  # multi-step input: no noise
        to_multi_step(model, 1)
    assert _hooks(model) == 0
    torch.testing.assert_close(model(x), clean)
    model.eval()
    torch.testing.assert_close(model(x), eval_clean)
    model.T = 3
    model.train()
    torch.testing.assert_close(model(x), multi)


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        (dict(neuron="lif", v_reset="soft", v_init=0.5), "not 'if'"),
        (dict(neuron="if", v_reset=0.0, v_init=0.5), "hard reset"),
        (dict(neuron="if", v_reset="soft"), "v_init=0.0 is not v_threshold / 2"),
        (dict(neuron="if", v_reset="soft", v_threshold=2.0, v_init=0.5), "v_threshold / 2 = 1.0"),
    ],
)
def test_the_rule_refuses_other_neurons(kwargs, problem):
    model = snn_zoo.create_model("spiking_cnn_tiny", T=1, **kwargs)
    with pytest.raises(ValueError, match="conversion rule") as err:
        noisy_single_step(model)
    assert problem in str(err.value) and _hooks(model) == 0
    assert conversion_neuron_problems(**{"v_init": 0.0, **kwargs}) != []
    assert conversion_neuron_problems(**RULE) == []


@pytest.mark.parametrize("scale", [-0.1, float("nan"), float("inf"), True, "1"])
def test_bad_noise_width_is_refused(scale):
    with pytest.raises(ValueError, match="noise width"):
        noisy_single_step(_rule_if(), scale)


def test_v_init_is_checked_saved_and_restored_by_reset(tmp_path):
    with pytest.raises(ValueError, match="v_init"):
        snn_zoo.create_model("spiking_cnn_tiny", neuron="if", v_init=1.0)
    with pytest.raises(ValueError, match="v_init"):
        IFNode(v_init=-0.1)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=2, **RULE)
    model(torch.rand(1, 1, 8, 8))
    assert isinstance(model.stem.sn.v, torch.Tensor)
    reset_net(model)
    assert model.stem.sn.v == 0.5
    snn_zoo.save_pretrained(model, tmp_path)
    again = snn_zoo.create_model(f"local-dir:{tmp_path}")
    assert again.stem.sn.v_init == 0.5 and again.snn_args == model.snn_args


class OneLayer(torch.nn.Module):
    """A one-neuron-layer 'network' with a T attribute: output = firing rate over T steps of constant input."""

    def __init__(self):
        super().__init__()
        self.T, self.sn = 4, _rule_if()

    def forward(self, x):
        return self.sn(x.expand(self.T, *x.shape)).mean(0)


def test_noise_averaged_estimates_the_t1_expectation_and_restores_the_model():
    model = OneLayer().eval()
    x = torch.linspace(-0.25, 1.25, 7)
    averaged = NoiseAveraged(model, draws=4000, generator=torch.Generator().manual_seed(0)).eval()
    out = averaged(x)
    torch.testing.assert_close(out, x.clamp(0, 1), atol=0.03, rtol=0)  # std of a mean of 4000 draws <= 0.008
    assert model.T == 4 and not model.sn.training and _hooks(model) == 0 and model.sn.v == 0.5
    assert torch.equal(model(x), ((0.5 + 4 * x) // 1).clamp(0, 4) / 4)  # noise-free T=4 afterwards
    with pytest.raises(ValueError, match="draws"):
        NoiseAveraged(model, draws=0)
