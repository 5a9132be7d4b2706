"""energy_report against hand-computed counts (spikingjelly op_counter conventions, E_MAC 4.6 pJ / E_AC 0.9 pJ)."""

import pytest
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.op_counter import DispatchCounterMode, MACCounter

import snn_zoo
from snn_zoo.metrics import EnergyReport, energy_report
from snn_zoo.neurons import IFNode

E_MAC, E_AC = 4.6, 0.9


class TwoLinear(nn.Module):
    """[T, B, 4, 1, 1] -> fc1 (4->3, all weights 0.6) -> IF -> fc2 (3->2) -> mean over T."""

    T = 2

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3, bias=False)
        self.sn = IFNode()
        self.fc2 = nn.Linear(3, 2, bias=False)
        nn.init.constant_(self.fc1.weight, 0.6)
        nn.init.constant_(self.fc2.weight, 0.5)

    def forward(self, x):
        functional.reset_net(self)
        if x.dim() == 4:  # direct encoding: repeat the static input T times
            x = x.unsqueeze(0).expand(self.T, *x.shape)
        return self.fc2(self.sn(self.fc1(x.flatten(2)))).mean(0)


def _spikes(rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(2, -1, 4, 1, 1)


def test_linear_fed_by_spikes_matches_hand_count():
    # sample 0: t0 [1,1,0,0] -> current 1.2 -> all 3 IF neurons fire; t1 [1,0,0,0] -> 0.6, silent.
    # sample 1: t0 and t1 [0,0,1,1] -> 1.2 twice -> 3 spikes each step.
    x = _spikes([[[1, 1, 0, 0], [0, 0, 1, 1]], [[1, 0, 0, 0], [0, 0, 1, 1]]])  # [T=2, B=2, 4, 1, 1]
    rep = energy_report(TwoLinear(), x)
    # fc1 SynOps = input spikes x 3 outputs: (3 + 4) * 3 = 21; fc2 = IF spikes x 2: (3 + 6) * 2 = 18.
    assert rep.acs == pytest.approx((21 + 18) / 2)
    assert rep.macs == 0  # every matmul input is binary
    assert rep.energy_mj == pytest.approx(19.5 * E_AC * 1e-9)
    assert rep.ann_macs == 4 * 3 + 3 * 2  # dense, one pass
    assert rep.ann_energy_mj == pytest.approx(18 * E_MAC * 1e-9)
    assert rep.firing_rates == {"sn": pytest.approx(9 / (3 * 2 * 2))}
    assert rep.mean_firing_rate == pytest.approx(0.75)
    assert rep.spikes_per_image == pytest.approx(4.5)
    assert (rep.T, rep.batch_size, rep.param_count) == (2, 2, 18)
    assert rep.layer_ops == {"fc1": {"macs": 0.0, "acs": 10.5}, "fc2": {"macs": 0.0, "acs": 9.0}}
    d = rep.to_dict()
    assert d["sops_per_image"] == d["acs"] and d["energy_mj_per_image"] == d["energy_mj"]
    assert d["ann_energy_mj_per_image"] == d["ann_energy_mj"]


def test_direct_encoding_counts_the_encoding_layer_once():
    # Real-valued static input [0.5, 0.7, 0, 0.1] repeated T=2 times: fc1 is 12 MACs per step.
    # fc1 current 0.78 -> IF fires at t1 only (v = 1.56): fc2 SynOps = 3 spikes x 2 = 6.
    x = torch.tensor([[0.5, 0.7, 0.0, 0.1]]).reshape(1, 4, 1, 1)
    rep = energy_report(TwoLinear(), x)
    assert (rep.macs, rep.acs) == (12, 6)
    assert rep.energy_mj == pytest.approx((12 * E_MAC + 6 * E_AC) * 1e-9)
    raw = energy_report(TwoLinear(), x, encoding_once=False)  # what MACCounter counts by itself
    assert (raw.macs, raw.acs) == (24, 6)
    # spikingjelly's composite estimate (adds memory traffic) is reported beside ours, never mixed in.
    both = energy_report(TwoLinear(), x, include_sj_simple=True)
    assert both.sj_simple_energy_mj > both.energy_mj == rep.energy_mj


def test_conv_synops_are_exact_weight_uses_at_borders():
    # One spike in the corner of a 3x3 map, 3x3 conv with padding 1: it reaches 4 of the 9
    # output positions (FLOPs x rate would say 9), times C_out = 5.
    class OneConv(nn.Module):
        T = 1

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 5, 3, padding=1, bias=False)

        def forward(self, x):
            return self.conv(x.flatten(0, 1)).sum((-2, -1))

    x = torch.zeros(1, 1, 2, 3, 3)
    x[0, 0, 1, 0, 0] = 1.0
    rep = energy_report(OneConv(), x)
    assert (rep.acs, rep.macs) == (4 * 5, 0)
    assert rep.ann_macs == 2 * 9 * 9 * 5  # C_in * k*k * H_out*W_out * C_out


def test_sew_add_spike_counts_are_accumulates_not_macs():
    # SEW ADD emits counts {0, 1, 2}: 1x1 conv on counts = sum(counts) x C_out accumulates.
    class CountConv(nn.Module):
        T = 1

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 1, bias=False)

        def forward(self, x):
            return self.conv(x.flatten(0, 1))

    x = torch.tensor([0.0, 1.0, 2.0, 2.0, 0.0, 1.0, 0.0, 2.0]).reshape(1, 1, 2, 2, 2)
    rep = energy_report(CountConv(), x)
    assert (rep.acs, rep.macs) == (8 * 3, 0)
    raw = energy_report(CountConv(), x, integer_spikes_as_acs=False)  # spikingjelly alone: dense MACs
    assert (raw.acs, raw.macs) == (0, 2 * 3 * 4)


def test_ann_macs_equal_maccounter_on_the_relu_twin_and_snn_is_cheaper():
    torch.manual_seed(0)
    snn = snn_zoo.create_model("spiking_cnn_tiny", T=4)
    x = torch.rand(3, 1, 8, 8)
    rep = energy_report(snn, x)
    twin = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu").eval()
    counter = MACCounter(extra_ignore_modules=[nn.modules.batchnorm._BatchNorm])
    with torch.no_grad(), DispatchCounterMode([counter]):
        twin(x)
    assert rep.ann_macs == counter.get_total() / 3
    assert isinstance(rep, EnergyReport) and set(rep.firing_rates) == {
        "stem.sn",
        "stage1.0.sn",
        "stage2.0.sn",
        "stage3.sn",
    }
    assert 0 <= rep.mean_firing_rate < 0.5  # sparse
    assert rep.ann_energy_mj > rep.energy_mj > 0
    assert snn.training  # mode restored


def test_bad_input_and_costs_are_rejected():
    with pytest.raises(ValueError, match="event frames"):
        energy_report(TwoLinear(), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="nonnegative"):
        energy_report(TwoLinear(), _spikes([[[1, 0, 0, 0]], [[0, 0, 0, 0]]]), e_ac_pj=-1.0)
