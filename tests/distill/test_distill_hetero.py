"""Hetero-temperature KD's spike term: the differentiable firing rate, overall or per layer."""

import pytest
import torch
import torch.nn as nn

import snn_zoo
from snn_zoo.distill import Distiller, SpikeRateRegularizer
from snn_zoo.neurons import IFNode


class TwoLayers(nn.Module):
    """Layer a: 2 neurons, layer b: 6 neurons, so the overall and the per-layer rates differ."""

    def __init__(self):
        super().__init__()
        self.a, self.b = IFNode(), IFNode()

    def forward(self, xa, xb):
        return self.a(xa), self.b(xb)


def test_overall_and_per_layer_rates():
    model = TwoLayers()
    xa = torch.tensor([[[2.0, 2.0]]], requires_grad=True)  # [T=1, N=1, 2]: both fire
    xb = torch.tensor([[[2.0, 0.0, 0.0, 0.0, 0.0, 0.0]]], requires_grad=True)  # 1 of 6 fires
    overall, per_layer = SpikeRateRegularizer(model), SpikeRateRegularizer(model, per_layer=True)
    model(xa, xb)
    assert overall.rate().item() == pytest.approx(3 / 8)
    assert per_layer.rate().item() == pytest.approx((1.0 + 1 / 6) / 2)
    per_layer.rate().backward()  # differentiable through the surrogate
    assert xa.grad.abs().sum() > 0 and xb.grad.abs().sum() > 0
    for reg in (overall, per_layer):
        reg.reset()
        assert reg.rate() is None
        reg.remove()


def test_rates_accumulate_over_calls_until_reset():
    model, reg = TwoLayers(), None
    reg = SpikeRateRegularizer(model, per_layer=True)
    ones, zeros = torch.full((1, 1, 2), 2.0), torch.zeros(1, 1, 6)
    model(ones, zeros)
    model(ones * 0, zeros)  # layer a: 2 of 4 over both calls; layer b: 0 of 12
    assert reg.rate().item() == pytest.approx((0.5 + 0.0) / 2)
    reg.enabled = False
    model(ones, ones.new_full((1, 1, 6), 2.0))  # paused: not recorded
    assert reg.rate().item() == pytest.approx(0.25)


@pytest.mark.parametrize("per_layer", [0.0, 1.0])
def test_distiller_adds_the_chosen_spike_term(per_layer):
    torch.manual_seed(0)
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    teacher = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    d = Distiller(student, teacher, "hetero", spike_weight=2.0, spike_per_layer=per_layer)
    assert d.spike_reg.per_layer is bool(per_layer)
    with SpikeRateRegularizer(student, per_layer=bool(per_layer)) as witness:  # records the same forward
        terms = d(torch.rand(3, 1, 8, 8) * 3, torch.tensor([0, 1, 2]))
        expected = 2.0 * witness.rate()
    assert terms["spike"] > 0
    torch.testing.assert_close(terms["spike"], expected)


def test_spike_per_layer_is_a_switch():
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    teacher = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    with pytest.raises(ValueError, match="spike_per_layer is a switch"):
        Distiller(student, teacher, "hetero", spike_weight=1.0, spike_per_layer=0.5)
