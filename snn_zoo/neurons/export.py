"""Export of models with zoo neurons to formats that do not know the ``snn_zoo::multistep_*`` ops.

``torch.export`` keeps each neuron as one custom-op node (fast to export, needs snn_zoo to run).
ONNX has no such op, so :func:`export_onnx` first decomposes every neuron into standard ops
(its forward unrolled over T, :func:`snn_zoo.neurons.torch_kernel.forward_functional`) and then
runs PyTorch's dynamo-based ONNX exporter. Needs the ``onnx`` extra:
``pip install "snn_zoo[onnx]"``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from . import ops
from .torch_kernel import forward_functional


def _decompose_multistep(
    x_seq, v_init, k, kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay, backend, save_h
):
    spec = ops._spec(kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay)
    spikes, v_last, h_seq = forward_functional(x_seq, v_init, k, spec)
    return spikes, v_last, h_seq if save_h else x_seq.new_empty((0,))


def decompositions() -> dict:
    """``{op: decomposition}`` for ``ExportedProgram.run_decompositions``: neurons into standard ops."""
    return {torch.ops.snn_zoo.multistep_forward.default: _decompose_multistep}


def export_program(
    model: nn.Module, example: torch.Tensor, decompose_neurons: bool = False
) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` in eval mode on ``example``; optionally with neurons decomposed."""
    model = model.eval()
    with torch.no_grad():
        program = torch.export.export(model, (example,))
    return program.run_decompositions(decompositions()) if decompose_neurons else program


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path) -> Path:
    """Write ``model`` (eval mode, input shaped like ``example``) as an ONNX file; returns the path."""
    try:
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ImportError('ONNX export needs onnx and onnxscript: pip install "snn_zoo[onnx]"') from error
    program = export_program(model, example, decompose_neurons=True)
    path = Path(path)
    torch.onnx.export(program, (example,), str(path), dynamo=True, external_data=False)
    return path
