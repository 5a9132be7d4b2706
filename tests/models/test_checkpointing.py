"""Gradient checkpointing per block (plain and with bit-packed spikes) gives plain BPTT's gradients."""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY

import snn_zoo
from snn_zoo.models._checkpoint import pack, unpack

NAMES = sorted(TINY)


def _grads(model, x, mode):
    model.set_grad_checkpointing(mode is not None, pack_spikes=mode == "packed")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(x)
    (out * torch.arange(1.0, out.shape[-1] + 1)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    return out.detach(), grads


@pytest.mark.parametrize("name", NAMES)
def test_checkpointing_gives_bptt_gradients(name):
    kwargs, shape = TINY[name]
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, T=3, num_classes=5, **kwargs).train()
    x = torch.rand(2, *shape) * 2
    out, grads = _grads(model, x, None)
    assert len(grads) == len(list(model.parameters()))
    for mode in ("plain", "packed"):
        out_c, grads_c = _grads(model, x, mode)
        assert torch.equal(out_c, out), mode
        assert grads_c.keys() == grads.keys(), mode
        for n in grads:
            torch.testing.assert_close(grads_c[n], grads[n], rtol=1e-5, atol=1e-6, msg=f"{mode} {n}")


def test_pack_is_exact_and_small():
    spikes = (torch.rand(4, 3, 5, 7) > 0.5).float()
    kind, payload, *_ = packed = pack(spikes)
    assert kind == "bits" and payload.numel() == (spikes.numel() + 7) // 8
    assert torch.equal(unpack(packed), spikes)
    counts = spikes + (torch.rand_like(spikes) > 0.5).float()  # SEW ADD residual: 0, 1, 2
    assert pack(counts)[0] == "uint8" and torch.equal(unpack(pack(counts)), counts)
    analog = torch.randn(3, 4)
    assert pack(analog)[0] == "raw" and torch.equal(unpack(pack(analog)), analog)
    bf16 = spikes.bfloat16()
    assert unpack(pack(bf16)).dtype == torch.bfloat16
