"""A NIR graph (ours, snntorch's, sinabs', ...) as a runnable multi-step snn_zoo module.

``nirtorch.nir_to_torch`` wires the graph; our node map gives it multi-step modules (convs and pools
applied to every step of [T, B, ...], our IF / LIF kernels for the neurons), so one call runs the
whole sequence layer by layer. That is exact for feed-forward graphs, the only kind NIR exporters of
convolutional SNNs write; recurrent graphs (a cycle of edges) are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from spikingjelly.activation_based import base as sj_base

from .layers import Flatten, MultiStep, Pool2d
from .neurons import NIR_DT, NIRConversionError, ThresholdUnit, neuron_from_nir, require_nir


def _tensor(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value), dtype=torch.float32).clone()


def _ints(value) -> tuple[int, ...]:
    return tuple(int(v) for v in np.atleast_1d(np.asarray(value)))


def _affine(node) -> nn.Module:
    weight = _tensor(node.weight)
    bias = getattr(node, "bias", None)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:  # nirtorch's default Affine map leaves the bias random (NIRTorch #55)
            layer.bias.copy_(_tensor(bias))
    return layer


def _conv2d(node) -> nn.Module:
    weight = _tensor(node.weight)
    padding = node.padding if isinstance(node.padding, str) else _ints(node.padding)
    layer = nn.Conv2d(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=_ints(node.stride),
        padding=padding,
        dilation=_ints(node.dilation),
        groups=int(node.groups),
        bias=True,
    )
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(_tensor(node.bias) if node.bias is not None else torch.zeros(weight.shape[0]))
    return MultiStep(layer)


def _pool(kind: str) -> Callable:
    # Padding honoured for SumPool2d too (nirtorch's default map drops it, NIRTorch #44).
    return lambda node: Pool2d(kind, _ints(node.kernel_size), _ints(node.stride), _ints(node.padding))


def node_map(dt: float = NIR_DT) -> dict[type, Callable]:
    """``{NIR node class: node -> multi-step torch module}`` for ``nirtorch.nir_to_torch``."""
    import nir

    return {
        nir.Input: lambda node: nn.Identity(),
        nir.Output: lambda node: nn.Identity(),
        nir.Affine: _affine,
        nir.Linear: _affine,
        nir.Conv2d: _conv2d,
        nir.AvgPool2d: _pool("avg"),
        nir.SumPool2d: _pool("sum"),
        nir.Flatten: lambda node: Flatten(int(node.start_dim), int(node.end_dim)),
        nir.IF: lambda node: neuron_from_nir(node, dt),
        nir.LIF: lambda node: neuron_from_nir(node, dt),
        nir.Threshold: lambda node: ThresholdUnit(float(np.unique(np.asarray(node.threshold))[0])),
    }


def _plain(value):
    """A metadata value read back from HDF5 (bytes, numpy scalars) as plain Python."""
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value.tolist()
    return value.item() if hasattr(value, "item") else value


def _check_graph(graph, supported: dict) -> None:
    """Refuse, by node name, what the layer-by-layer run cannot do: unknown nodes, subgraphs, cycles."""
    for name, node in graph.nodes.items():
        if type(node) not in supported:
            kinds = sorted(cls.__name__ for cls in supported)
            raise NIRConversionError(
                f"NIR node {name!r} ({type(node).__name__}): snn_zoo.from_nir cannot run it; supported nodes: {kinds}."
            )
    indegree = {name: 0 for name in graph.nodes}
    for _, dst in graph.edges:
        indegree[dst] += 1
    ready = [name for name, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        name = ready.pop()
        seen += 1
        for src, dst in graph.edges:
            if src == name:
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
    if seen != len(graph.nodes):
        cyclic = sorted(name for name, d in indegree.items() if d > 0)
        raise NIRConversionError(
            f"NIR graph is recurrent (nodes {cyclic[:4]} lie on a cycle); snn_zoo.from_nir runs feed-forward graphs."
        )


class NIRModel(nn.Module):
    """A NIR graph run over time like a zoo model: static input repeated ``T`` times, logits averaged.

    ``forward(x)``: x is one sample shape with a batch dim ([B, *input_shape], repeated T times:
    direct encoding) or a sequence [T, B, *input_shape]; returns the output averaged over time.
    ``forward_seq(x_seq)`` returns every step's output [T, B, ...].
    """

    def __init__(self, graph_module: nn.Module, T: int, input_shape: tuple[int, ...] | None, metadata: dict):
        super().__init__()
        self.graph = graph_module
        self.T = int(T)
        self.input_shape = input_shape
        self.metadata = metadata

    def reset_state(self) -> None:
        for module in self.modules():
            if isinstance(module, sj_base.MemoryModule):
                module.reset()

    def forward_seq(self, x_seq: torch.Tensor) -> torch.Tensor:
        self.reset_state()
        out = self.graph(x_seq)
        return out[0] if isinstance(out, tuple) else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = len(self.input_shape) if self.input_shape is not None else x.dim() - 1
        if x.dim() == dims + 1:
            x_seq = x.unsqueeze(0).expand(self.T, *x.shape)
        elif x.dim() == dims + 2:
            x_seq = x
        else:
            raise ValueError(
                f"Expected [B, {self.input_shape}] (static, repeated T={self.T} times) or [T, B, {self.input_shape}], "
                f"got {tuple(x.shape)}."
            )
        return self.forward_seq(x_seq).mean(0)


def from_nir(graph_or_path, T: int | None = None, dt: float | None = None) -> NIRModel:
    """Build a runnable multi-step module from a ``nir.NIRGraph`` or a ``.nir`` file.

    Args:
        graph_or_path: the graph, or the path of a file written by ``nir.write``.
        T: time steps for static input; default: the graph's ``time_steps`` metadata (ours), else 1.
        dt: seconds per step for the neuron parameters; default: the graph's ``dt`` metadata (ours),
            else 1e-4 (the value spikingjelly's exporter and snntorch use).
    """
    nir, nirtorch = require_nir()
    if isinstance(graph_or_path, (str, Path)):
        path = Path(graph_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"No NIR file at {str(path)!r}.")
        graph = nir.read(path, type_check=False)  # types are not needed to run; foreign files often lack some
    else:
        graph = graph_or_path
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir expects a nir.NIRGraph or a path, got {type(graph).__name__}.")
    metadata = {k: _plain(v) for k, v in (graph.metadata or {}).items()}
    dt = float(dt if dt is not None else metadata.get("dt", NIR_DT))
    T = int(T if T is not None else metadata.get("time_steps", 1))
    mapping = node_map(dt)
    _check_graph(graph, mapping)
    module = nirtorch.nir_to_torch(graph, mapping, default_map={})
    inputs = [node for node in graph.nodes.values() if isinstance(node, nir.Input)]
    shape = inputs[0].input_type.get("input") if len(inputs) == 1 else None
    input_shape = tuple(int(s) for s in shape) if shape is not None else None
    return NIRModel(module, T, input_shape, metadata)
