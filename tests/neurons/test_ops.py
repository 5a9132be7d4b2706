"""The neuron custom ops: schema / fake / autograd registration, compile, half precision, export form."""

from __future__ import annotations

import logging

import pytest
import torch

from snn_zoo.neurons import IFNode, LIFNode, PLIFNode, create_neuron, torch_kernel
from snn_zoo.neurons.ops import multistep_forward, multistep_torch
from snn_zoo.neurons.spec import NeuronSpec

SPECS = [
    NeuronSpec(kind="if"),
    NeuronSpec(kind="lif", k=1.0 / 3.0, v_reset=-0.1, surrogate="atan", alpha=2.0),
    NeuronSpec(kind="lif", v_reset=None, decay_input=False, detach_reset=True),
    NeuronSpec(kind="plif", surrogate="triangle", alpha=1.0),
]


def _args(spec: NeuronSpec, T=3, shape=(2, 5), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn((T, *shape), generator=g) * 1.5 + 0.6).to(dtype)
    v0 = torch.randn(shape, generator=g) * 0.3
    k = torch.tensor(0.4, requires_grad=True) if spec.kind == "plif" else None
    return x, v0, k


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.surrogate}-{'hard' if s.hard_reset else 'soft'}")
def test_opcheck(spec):
    x, v0, k = _args(spec)
    x.requires_grad_(True)
    args = (
        x,
        v0,
        k,
        spec.kind,
        spec.v_threshold,
        spec.v_reset,
        spec.surrogate,
        spec.alpha,
        spec.detach_reset,
        spec.decay_input,
        spec.k,
        "torch",
        True,
    )
    torch.library.opcheck(multistep_forward, args)


@pytest.mark.parametrize("node_cls", [IFNode, LIFNode, PLIFNode])
def test_compile_fullgraph_matches_eager(node_cls):
    torch.manual_seed(0)
    node = node_cls()
    x = torch.randn(4, 3, 7) + 0.5
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    eager = node(xa)
    eager.backward(torch.ones_like(eager))
    grads = [p.grad.clone() for p in node.parameters()]
    for p in node.parameters():
        p.grad = None
    node.reset()
    compiled = torch.compile(node, fullgraph=True, backend="aot_eager")(xb)
    compiled.backward(torch.ones_like(compiled))
    assert torch.equal(compiled, eager)
    assert torch.equal(xb.grad, xa.grad)
    for p, g in zip(node.parameters(), grads):
        assert torch.equal(p.grad, g)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{'hard' if s.hard_reset else 'soft'}")
def test_half_kernel_matches_functional_reference(spec, dtype):
    # Half input, fp32 membrane, h rounded to the storage dtype before firing: same spikes and v as
    # the out-of-place reference (the form exporters get), and spikes exactly 0/1 in the input dtype.
    x, v0, k = _args(spec, T=6, shape=(4, 33), dtype=dtype, seed=1)
    kd = k.detach() if k is not None else None
    s, v, h = torch_kernel.forward(x, v0, kd, spec, save_h=True)
    s_ref, v_ref, h_ref = torch_kernel.forward_functional(x, v0, kd, spec)
    assert s.dtype == dtype and v.dtype == torch.float32 and h.dtype == dtype
    assert torch.equal(s, s_ref) and torch.equal(v, v_ref) and torch.equal(h, h_ref)
    assert set(s.unique().tolist()) <= {0.0, 1.0} and 0 < s.float().mean() < 1


def test_no_h_without_grad():
    spec = NeuronSpec(kind="lif")
    x, v0, _ = _args(spec)
    with torch.no_grad():
        _, _, h = multistep_forward(x, v0, None, *_spec_tuple(spec), "torch", False)
    assert h.numel() == 0
    spikes, _ = multistep_torch(x.requires_grad_(True), v0, None, spec)
    assert spikes.requires_grad


def _spec_tuple(spec):
    return (
        spec.kind,
        spec.v_threshold,
        spec.v_reset,
        spec.surrogate,
        spec.alpha,
        spec.detach_reset,
        spec.decay_input,
        spec.k,
    )


def test_bf16_autocast_model_spikes_exact():
    import snn_zoo

    model = snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()
    seen = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.append((i[0].dtype, o)))
        for m in model.modules()
        if isinstance(m, LIFNode)
    ]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(2, 1, 8, 8) * 3)
    for h in hooks:
        h.remove()
    assert out.dtype == torch.bfloat16 and seen
    assert any(dt == torch.bfloat16 for dt, _ in seen)  # the convs feed bf16 into the neurons
    for _, spikes in seen:
        assert set(spikes.float().unique().tolist()) <= {0.0, 1.0}
    assert all(m.v.dtype == torch.float32 for m in model.modules() if isinstance(m, LIFNode))


def test_backend_is_logged_at_build_not_per_call(caplog):
    from snn_zoo.neurons import backend

    backend.log_backend_choice.cache_clear()
    with caplog.at_level(logging.INFO, logger="snn_zoo.neurons.backend"):
        nodes = [create_neuron("lif") for _ in range(3)]
        built = len(caplog.records)
        for node in nodes:
            node(torch.randn(2, 4))
    assert built <= 1 and len(caplog.records) == built
