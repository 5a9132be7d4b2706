"""torch.compile(fullgraph=True) forward + backward equals eager on every family; torch.export; ONNX.

Each family is compiled with the ``aot_eager`` backend (dynamo's full-graph capture plus
AOTAutograd's joint forward/backward trace through the neuron ops: what can break); one model
goes through Inductor end to end.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from tiny_models import TINY

import snn_zoo

NAMES = sorted(TINY)


def _model_and_input(name):
    kwargs, shape = TINY[name]
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, T=2, num_classes=5, **kwargs)
    x = torch.rand(2, *shape) * 2
    return model, x


def _step(model, x, run=None):
    out = (model if run is None else run)(x)
    (out * torch.arange(1.0, out.shape[-1] + 1)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out.detach(), grads


def _compare(model, x, backend, grad_tol):
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out, grads = _step(model, x)
    model.load_state_dict(state)  # BN running stats as before the eager step
    # Fresh dynamo state: the families share forward code, and a recompile with new shapes would switch
    # to dynamic shapes, where Inductor (torch 2.14) fails on spikingjelly's multi-step Conv2d alone
    # ("cannot determine truth value of Relational"); static shapes are torch.compile's default.
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    out_c, grads_c = _step(model, x, run=compiled)
    assert torch.equal(out_c, out)
    assert grads_c.keys() == grads.keys()
    for name in grads:
        torch.testing.assert_close(grads_c[name], grads[name], rtol=grad_tol, atol=grad_tol, msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_compile_fullgraph_forward_backward_equals_eager(name):
    model, x = _model_and_input(name)
    _compare(model, x, "aot_eager", grad_tol=0.0)


def test_compile_inductor_equals_eager():
    model, x = _model_and_input("spiking_cnn_tiny")
    _compare(model, x, "inductor", grad_tol=1e-5)  # Inductor fuses BN differently: rounding only


@pytest.mark.parametrize("name", NAMES)
def test_torch_export(name):
    model, x = _model_and_input(name)
    model.eval()
    with torch.no_grad():
        program = torch.export.export(model, (x,))
        assert torch.equal(program.module()(x), model(x))
    ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert "snn_zoo.multistep_forward.default" in ops


@pytest.mark.skipif(importlib.util.find_spec("onnxscript") is None, reason='needs pip install "snn_zoo[onnx]"')
def test_onnx_export(tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator

    from snn_zoo.neurons.export import export_onnx

    model, x = _model_and_input("spiking_cnn_tiny")
    path = export_onnx(model, x, tmp_path / "model.onnx")
    onnx.checker.check_model(str(path))
    session = ReferenceEvaluator(str(path))
    out = session.run(None, {session.input_names[0]: x.numpy()})[0]
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), model.eval()(x), rtol=1e-5, atol=1e-5)
