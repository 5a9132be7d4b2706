"""Spike-driven attention is counted as additions only: hand counts on tiny attention layers."""

from __future__ import annotations

import torch

from snn_zoo.metrics.energy import energy_report
from snn_zoo.models.qkformer import QKTokenAttention
from snn_zoo.models.spike_driven_transformer import SpikeDrivenSelfAttention
from snn_zoo.neurons import neuron_factory

D, HEADS, T, B = 8, 2, 2, 3


def _capture(module, names):
    caps = {}
    for n in names:
        getattr(module, n).register_forward_hook(lambda m, i, o, n=n: caps.__setitem__(n, o))
    return caps


def _heads(t: torch.Tensor) -> torch.Tensor:  # [T, B, D, H, W] -> [T, B, heads, N, D / heads]
    return t.flatten(3).transpose(-1, -2).reshape(T, B, -1, HEADS, D // HEADS).transpose(2, 3)


def test_sdsa_counts_synops_of_its_convs_plus_one_add_per_kv_spike():
    torch.manual_seed(0)
    attn = SpikeDrivenSelfAttention(D, HEADS, neuron_factory(neuron="lif", detach_reset=True)).eval()
    caps = _capture(attn, ("input_sn", "q_sn", "k_sn", "v_sn", "kv_sn"))
    report = energy_report(attn, torch.randn(T, B, D, 4, 4) * 2)
    s, q, k, v, kv = (caps[n] for n in ("input_sn", "q_sn", "k_sn", "v_sn", "kv_sn"))
    masked = _heads(q) * kv
    # q/k/v 1x1 convs on spikes: nnz(s) * D each; K * V mask: 0; column sum: nnz(K * V); Q * kv mask: 0;
    # proj 1x1 conv on the masked spikes: nnz * D. Nothing multiplies a real value.
    expected = 3 * s.sum() * D + (_heads(k) * _heads(v)).sum() + masked.sum() * D
    assert report.macs == 0
    assert report.acs * B == expected.item() > 0


def test_qk_token_attention_counts_one_add_per_q_spike():
    torch.manual_seed(1)
    attn = QKTokenAttention(D, HEADS, neuron_factory(neuron="lif", detach_reset=True)).eval()
    caps = _capture(attn, ("q_sn", "k_sn", "attn_sn"))
    x = (torch.rand(T, B, D, 4, 4) < 0.4).float()  # spikes in: every conv is a SynOp layer
    report = energy_report(attn, x)
    q, k, gate = caps["q_sn"], caps["k_sn"], caps["attn_sn"]
    gated = gate * k.reshape(T, B, HEADS, D // HEADS, -1)
    expected = 2 * x.sum() * D + q.sum() + gated.sum() * D
    assert report.macs == 0
    assert report.acs * B == expected.item() > 0


def test_sum_of_real_values_is_not_counted():
    class RealSum(torch.nn.Module):
        T = 1

        def forward(self, x):
            return x.sum(dim=-1)

    assert energy_report(RealSum(), torch.randn(1, 2, 3, 4, 4)).acs == 0
