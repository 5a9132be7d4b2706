"""The neuron under torch.compile (plain traceable torch that Inductor fuses), float64 dynamics, quiet tools.

* Under ``torch.compile`` the neuron is :mod:`snn_zoo.neurons.traced` (no custom op in the graph),
  equal to the eager custom op bit for bit (values and gradients) without Inductor; ``torch.export``
  keeps the custom op; ``backend='cupy'`` keeps the custom op under compile too.
* float64 models run float64 membrane dynamics, checked against an independent float64 autograd reference.
* ``torch.export`` warns about no neuron state; the first ``torch.compile`` prints no CUDA_HOME notice.
"""

from __future__ import annotations

import itertools
import logging
import warnings

import pytest
import torch

from snn_zoo.neurons import IFNode, LIFNode, PLIFNode, traced
from snn_zoo.neurons.ops import multistep_torch
from snn_zoo.neurons.spec import NeuronSpec
from snn_zoo.neurons.surrogates import SURROGATES, get_surrogate

SPECS = [
    NeuronSpec(
        kind=kind,
        v_reset=v_reset,
        surrogate=sg,
        alpha=SURROGATES[sg].default_alpha,
        detach_reset=detach,
        decay_input=decay_input,
        k=1.0 / 3.0,
    )
    for kind, v_reset, sg, detach, decay_input in itertools.product(
        ("if", "lif", "plif"), (-0.1, None), tuple(SURROGATES), (False, True), (True, False)
    )
    if kind != "if" or decay_input
]


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view({8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()])


def _run(fn, x, v0, w, spec, grad_s):
    x = x.detach().requires_grad_(True)
    k = w.sigmoid() if w is not None else None
    spikes, v_last = fn(x, v0, k, spec)
    grads = torch.autograd.grad(spikes, [x] + ([w] if w is not None else []), grad_s)
    return spikes, v_last, grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64], ids=str)
@pytest.mark.parametrize(
    "spec", SPECS, ids=lambda s: f"{s.kind}-{s.surrogate}-{s.v_reset}-{s.detach_reset}-{s.decay_input}"
)
def test_traced_neuron_equals_the_kernel_bit_for_bit(spec, dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(5, 3, 11, generator=g) * 1.5 + 0.6).to(dtype)
    v0 = torch.randn(3, 11, generator=g) * 0.5
    grad_s = torch.randn(5, 3, 11, generator=g).to(dtype)
    w = torch.tensor(-0.4, dtype=torch.float64 if dtype == torch.float64 else torch.float32, requires_grad=True)
    w = w if spec.kind == "plif" else None
    ref = _run(multistep_torch, x, v0, w, spec, grad_s)
    out = _run(traced.multistep, x, v0, w, spec, grad_s)
    assert out[0].dtype == dtype and out[1].dtype == ref[1].dtype
    assert torch.equal(_bits(out[0]), _bits(ref[0])) and torch.equal(out[1], ref[1])
    for a, b in zip(out[2], ref[2]):  # equal values (autograd's sum over steps turns -0.0 into 0.0)
        assert a.dtype == b.dtype and torch.equal(a, b)


def _graph_ops(fn, *args) -> set[str]:
    """Every call target dynamo puts in the graph when compiling ``fn`` (fullgraph)."""
    seen: set[str] = set()

    def capture(gm, example_inputs):
        seen.update(str(n.target) for n in gm.graph.nodes if n.op == "call_function")
        return gm.forward

    torch._dynamo.reset()
    torch.compile(fn, backend=capture, fullgraph=True)(*args)
    return seen


@pytest.mark.parametrize("node_cls", [IFNode, LIFNode, PLIFNode])
def test_compile_traces_plain_torch_and_export_keeps_the_op(node_cls):
    node = node_cls()
    x = torch.randn(3, 2, 5)
    compiled_ops = _graph_ops(node, x)
    assert not any("snn_zoo" in op for op in compiled_ops), compiled_ops
    node.reset()
    with torch.no_grad():
        program = torch.export.export(node.eval(), (x,))
    exported = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "snn_zoo.multistep_forward.default" in exported


def test_the_switch():
    assert not traced.use_traced("auto") and not traced.use_traced("cupy")  # eager: the custom op
    seen = []

    def f(x):
        seen.append((traced.use_traced("auto"), traced.use_traced("torch"), traced.use_traced("cupy")))
        return x + 1

    torch._dynamo.reset()
    torch.compile(f, backend="eager", fullgraph=True)(torch.ones(2))
    assert seen == [(True, True, False)]  # compiled: traced, unless the user asked for cupy


def test_inductor_fuses_the_neuron_and_matches_eager():
    from torch._inductor.utils import run_and_get_code

    torch.manual_seed(0)
    conv, node = torch.nn.Conv2d(2, 4, 3, padding=1), PLIFNode(tau=3.0)

    def step(x):
        y = node(conv(x.flatten(0, 1)).unflatten(0, x.shape[:2]))
        return (y * torch.arange(1.0, y.shape[-1] + 1)).sum()

    x = torch.rand(3, 2, 2, 6, 6) * 3
    loss = step(x)
    loss.backward()
    eager = [p.grad.clone() for p in (*conv.parameters(), node.w)]
    for p in (*conv.parameters(), node.w):
        p.grad = None
    node.reset()
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True)

    def run():
        out = compiled(x)
        out.backward()
        return out

    out, code = run_and_get_code(run)
    assert torch.equal(out, loss) or abs(out.item() - loss.item()) <= 1e-5 * abs(loss.item())
    for p, g in zip((*conv.parameters(), node.w), eager):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    source = "\n".join(code)
    assert "snn_zoo" not in source  # no opaque neuron call: Inductor generated the neuron's code
    assert "sigmoid" in source  # the surrogate's sigmoid sits in a generated (fused) kernel


# --------------------------------------------------------------------------- float64 dynamics


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, alpha):
        ctx.save_for_backward(h)
        ctx.alpha = alpha
        return (h >= 0).to(h.dtype)

    @staticmethod
    def backward(ctx, grad):
        (h,) = ctx.saved_tensors
        return grad * get_surrogate("atan").grad(h.clone(), ctx.alpha), None


def _reference(x, v0, k, spec):
    """Textbook LIF/PLIF in float64 with autograd (independent of the kernels' hand-written backward)."""
    v, out = v0, []
    for t in range(x.shape[0]):
        h = v + k * (x[t] - (v - spec.reset_value))
        s = _Heaviside.apply(h - spec.v_threshold, spec.alpha)
        v = h * (1 - s) + spec.reset_value * s
        out.append(s)
    return torch.stack(out), v


@pytest.mark.parametrize("node_cls", [LIFNode, PLIFNode])
def test_float64_models_run_float64_dynamics(node_cls):
    torch.manual_seed(0)
    node = node_cls(tau=3.0, surrogate="atan", v_reset=-0.1).double()
    x = (torch.rand(6, 4, 9, dtype=torch.float64) * 0.9).requires_grad_(True)
    spikes = node(x)
    assert spikes.dtype == torch.float64 and node.v.dtype == torch.float64
    spec = NeuronSpec(kind="lif", v_reset=-0.1, surrogate="atan", alpha=2.0)
    k = node.w.sigmoid() if node_cls is PLIFNode else torch.tensor(1.0 / 3.0, dtype=torch.float64)
    xr = x.detach().clone().requires_grad_(True)
    ref_s, ref_v = _reference(xr, torch.zeros(4, 9, dtype=torch.float64), k, spec)
    assert torch.equal(spikes, ref_s)
    torch.testing.assert_close(node.v, ref_v, rtol=1e-14, atol=1e-15)
    # fp32 state would be off by ~1e-8 here, far outside this tolerance.
    assert (node.v.float().double() - ref_v).abs().max() > 1e-12
    grad_s = torch.randn_like(spikes)
    params = [x] + ([node.w] if node_cls is PLIFNode else [])
    ref_params = [xr] + ([node.w] if node_cls is PLIFNode else [])
    got = torch.autograd.grad(spikes, params, grad_s)
    want = torch.autograd.grad(ref_s, ref_params, grad_s)
    for a, b in zip(got, want):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_float64_compiled_matches_eager():
    torch.manual_seed(0)
    node = PLIFNode().double()
    x = torch.randn(4, 3, 5, dtype=torch.float64) + 0.5
    eager = node(x)
    v_eager = node.v
    node.reset()
    torch._dynamo.reset()
    assert torch.equal(torch.compile(node, backend="aot_eager", fullgraph=True)(x), eager)
    assert node.v.dtype == torch.float64 and torch.equal(node.v, v_eager)


# --------------------------------------------------------------------------- noise a user reads as failure


def test_export_warns_about_no_neuron_state():
    import snn_zoo

    model = snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()
    x = torch.rand(2, 1, 8, 8)
    model(x)  # state from an eager call exists before export
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        program = torch.export.export(model, (x,))
    assert not [w for w in caught if "register_buffer" in str(w.message) or "_memories" in str(w.message)]
    with torch.no_grad():
        assert torch.equal(program.module()(x), model(x))
    neurons = [m for m in model.modules() if isinstance(m, (IFNode, LIFNode, PLIFNode))]
    assert all(type(n.v) in (float, torch.Tensor) for n in neurons)  # no fake tensor left behind


def test_first_compile_prints_no_cuda_home_notice(caplog):
    """torch.utils.cpp_extension (imported by Inductor on the first compile) logs this when a CUDA toolkit is
    visible without a GPU; snn_zoo drops exactly that record, and torch still words it the way the filter expects."""
    import inspect

    import torch.utils.cpp_extension as cpp_extension

    import snn_zoo  # noqa: F401  (installs the filter)

    assert 'logger.warning("No CUDA runtime is found, using CUDA_HOME=' in inspect.getsource(cpp_extension)
    logger = logging.getLogger(cpp_extension.__name__)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        logger.warning("another warning from the same module")
    assert [r.getMessage() for r in caplog.records] == ["another warning from the same module"]


def test_float64_model_keeps_float64_state():
    import snn_zoo

    model = snn_zoo.create_model("spiking_cnn_tiny", T=2).double().eval()
    out = model(torch.rand(2, 1, 8, 8, dtype=torch.float64))
    neurons = [m for m in model.modules() if isinstance(m, (IFNode, LIFNode, PLIFNode))]
    assert out.dtype == torch.float64 and neurons and all(n.v.dtype == torch.float64 for n in neurons)
