"""Noisy single-step training hooks."""

import torch

import snn_zoo
from snn_zoo.distill import noisy_single_step, to_multi_step
from snn_zoo.neurons import IFNode, LIFNode, MultiStepNeuron


def _hooks(model):
    return sum(len(m._forward_pre_hooks) for m in model.modules() if isinstance(m, MultiStepNeuron))


def test_noise_changes_train_t1_outputs_and_is_removed():
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=1).train()
    x = torch.rand(4, 1, 8, 8) * 3
    clean = model(x)
    with noisy_single_step(model, sigma=0.5) as noisy:
        assert noisy.active and _hooks(model) == len(noisy.neurons) > 0
        assert not torch.equal(model(x), clean)
        model.eval()
        eval_clean = model(x)  # eval mode: no noise
        model.train()
    assert _hooks(model) == 0
    torch.testing.assert_close(model(x), clean)
    model.eval()
    torch.testing.assert_close(model(x), eval_clean)


def test_no_noise_at_multi_step():
    torch.manual_seed(1)
    model = to_multi_step(snn_zoo.create_model("spiking_cnn_tiny", T=1), 3).train()
    assert model.T == 3
    x = torch.rand(2, 1, 8, 8) * 3
    clean = model(x)
    with noisy_single_step(model, sigma=1.0):
        torch.testing.assert_close(model(x), clean)


def test_noise_on_input_equals_noise_on_membrane():
    sigma, x = 0.3, torch.linspace(0.0, 3.0, 200).reshape(1, 200)
    for neuron, gain in (
        (IFNode(), 1.0),
        (LIFNode(tau=2.0, decay_input=True), 0.5),
        (LIFNode(tau=2.0, decay_input=False), 1.0),
    ):
        gen = torch.Generator().manual_seed(7)
        with noisy_single_step(neuron, sigma, generator=gen):
            spikes = neuron(x)
        neuron.reset()
        eps = sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
        expected = ((gain * x + eps) >= 1.0).float()  # h = c * x at T=1 from v=0, plus N(0, sigma^2)
        assert torch.equal(spikes, expected), type(neuron).__name__
