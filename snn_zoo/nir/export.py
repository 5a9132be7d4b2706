"""A zoo model as a NIR graph, through nirtorch's tracer (``nirtorch.torch_to_nir``) and our node map.

What NIR gets is one time step of the network: the simulator runs it T times and averages the output
(our models' readout). The steps:

1. Refuse, in one line naming the module and why, what NIR 1.0 cannot express (:func:`nir_support`):
   attention (products of spike tensors), soft reset, SEW AND / IAND, the ANN twin.
2. Trace one step of the model with ``torch.fx`` (``head_seq(forward_features_seq(x))``, our neurons,
   convs, BN, pools and linears as leaves) and record every layer's per-sample shape.
3. Rewrite what NIR has no node for into what it has, exactly: BatchNorm folded into the conv (or
   linear) before it with the eval statistics; max pooling of binary spikes = a window sum (or
   average) followed by a memoryless threshold unit (any spike in the window -> 1), refused on
   anything that is not a spike tensor; the head's global average pool = ``AvgPool2d`` over the
   whole map + ``Flatten``. Residual additions stay; nirtorch turns them into NIR fan-in (NIR sums
   a node's inputs), which is how SEW ADD and Spiking-ResNet's add-then-fire are expressed.
4. ``nirtorch.torch_to_nir`` with our node map (:func:`_node_map`); graph metadata states dt, T, the
   input encoding, the readout and the threshold convention.

``pool='sum'`` writes ``SumPool2d`` instead of ``AvgPool2d`` (the 1/(k*k) of the global pool folded
into the classifier's weights): the form sum-only chips (Speck / sinabs) and norse import.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable

import numpy as np
import torch
import torch.fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from ..neurons import IFNode, LIFNode, MultiStepNeuron, PLIFNode
from .layers import Flatten, Pool2d
from .neurons import NIR_DT, NIRConversionError, ThresholdUnit, neuron_to_nir, require_nir, threshold_unit_to_nir

NIR_POOLS = ("avg", "sum")

# Families whose blocks multiply two signals; checked by class name along the MRO.
_ATTENTION = {
    "Spikformer": "spiking self-attention multiplies spike tensors (Q K^T V)",
    "Spikingformer": "spiking self-attention multiplies spike tensors (Q K^T V)",
    "SpikeDrivenTransformer": "spike-driven self-attention takes the Hadamard product of spike tensors (Q * K)",
    "QKFormer": "Q-K attention masks spike tensors with spike tensors",
    "MetaSpikeFormer": "spike-driven self-attention takes the Hadamard product of spike tensors (Q * K)",
}
_NO_PRODUCT = "NIR 1.0 has weighted sums of a node's inputs but no product of two signals"
_SEW_REFUSED = {"AND": "out * identity", "IAND": "identity * (1 - out)"}


class NIRExportError(NIRConversionError):
    """The model cannot be written as NIR; the one-line message names the module and why."""


def _model_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return cfg.get("architecture") or type(model).__name__


def _refuse(model: nn.Module, where: str, why: str) -> NIRExportError:
    return NIRExportError(f"{_model_name(model)}: cannot export to NIR: {where}: {why}")


def nir_support(model: nn.Module) -> str | None:
    """None if nothing in ``model`` is known to be inexpressible in NIR, else the refusal message.

    The structural checks that need a trace (max pooling of non-spikes, unknown layers) happen in
    :func:`export_nir` itself.
    """
    from ..models._base import SpikingModel

    if not isinstance(model, SpikingModel):
        name = type(model).__name__
        return f"{name}: cannot export to NIR: not an snn_zoo SpikingModel (create it with snn_zoo.create_model)"
    for cls in type(model).__mro__:
        if cls.__name__ in _ATTENTION:
            return str(_refuse(model, cls.__name__, f"{_ATTENTION[cls.__name__]}; {_NO_PRODUCT}"))
    if getattr(model, "neuron", None) == "relu":
        return str(_refuse(model, "neuron='relu'", "the ANN twin has no spiking neurons; NIR export is for SNNs"))
    for name, module in model.named_modules():
        if isinstance(module, MultiStepNeuron) and module.v_reset is None:
            return str(
                _refuse(
                    model,
                    f"{name} ({type(module).__name__})",
                    "soft reset (v_reset=None) subtracts the threshold; NIR 1.0 neurons only reset to a value "
                    "(build the model with v_reset=0.0)",
                )
            )
        connect = getattr(module, "connect", None) if name else None  # name the first residual block
        if connect in _SEW_REFUSED:
            return str(
                _refuse(
                    model,
                    f"{name} ({type(module).__name__})",
                    f"SEW connect={connect!r} computes {_SEW_REFUSED[connect]}; {_NO_PRODUCT} (connect='ADD' exports)",
                )
            )
    return None


# -- one time step as an fx graph --------------------------------------------------------------------
_LEAVES = (
    MultiStepNeuron,
    ThresholdUnit,
    Pool2d,
    Flatten,
    nn.Conv1d,
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.Identity,
    nn.Dropout,
)


class _StepTracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, qualified_name)


def _step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
    return self.head_seq(self.forward_features_seq(x_seq))


def _trace_step(model: nn.Module) -> torch.fx.GraphModule:
    """fx graph of ``head_seq(forward_features_seq(x))`` on a copy of ``model`` (node names = module paths)."""
    step = copy.deepcopy(model).eval().float().cpu()
    step.reset_state()  # a copy carries the membrane of the model's last forward
    step.grad_checkpointing = False
    # fx traces type(root).forward: a subclass whose forward is one step keeps the module paths as names.
    step.__class__ = type(f"{type(model).__name__}Step", (type(model),), {"forward": _step_forward})
    graph = _StepTracer().trace(step)
    return torch.fx.GraphModule(step, graph, class_name="NIRStep")


def _where(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    path = next(reversed(stack.values()))[0] if stack else ""
    return f"{path or 'model'} ({getattr(node.target, '__name__', node.target)})"


def _set_module(gm: torch.fx.GraphModule, target: str, module: nn.Module) -> None:
    parent, _, child = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, child, module)


def _sample_shape(node: torch.fx.Node) -> tuple[int, ...]:
    """Per-sample shape of a node's output: the traced tensor is [T, B, ...]."""
    return tuple(int(s) for s in node.meta["tensor_meta"].shape[2:])


def _is_spike_source(gm: torch.fx.GraphModule, node: torch.fx.Node) -> bool:
    return node.op == "call_module" and isinstance(gm.get_submodule(node.target), (MultiStepNeuron, ThresholdUnit))


class _Rewriter:
    """The exact rewrites of :mod:`snn_zoo.nir.export`'s step 3, on the traced step graph."""

    def __init__(self, model: nn.Module, gm: torch.fx.GraphModule, pool: str):
        self.model, self.gm, self.pool = model, gm, pool
        self.shapes: dict[nn.Module, tuple[int, ...]] = {}  # module -> per-sample input shape

    def run(self) -> dict[nn.Module, tuple[int, ...]]:
        for node in list(self.gm.graph.nodes):
            if node.op == "call_module":
                self._module(node)
            elif node.op == "call_method" and node.target == "mean":
                self._global_pool(node)
            elif node.op in ("call_function", "call_method") and node.target not in (operator.add, torch.add, "add"):
                raise _refuse(
                    self.model,
                    _where(node),
                    "no NIR node for this operation (NIR 1.0 has weighted sums of inputs, pooling, flatten and "
                    "neurons; residual additions become fan-in)",
                )
        self.gm.graph.lint()
        self.gm.recompile()
        return self.shapes

    def _module(self, node: torch.fx.Node) -> None:
        module = self.gm.get_submodule(node.target)
        source = node.args[0] if node.args else None
        if isinstance(module, (nn.Identity, nn.Dropout)):
            node.replace_all_uses_with(source)
            self.gm.graph.erase_node(node)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            self._fold_bn(node, module, source)
        elif isinstance(module, nn.MaxPool2d):
            self._spike_max_pool(node, module, source)
        elif isinstance(module, nn.AvgPool2d):
            if module.ceil_mode or not module.count_include_pad or module.divisor_override:
                raise _refuse(self.model, f"{node.target} (AvgPool2d)", "ceil_mode / count_include_pad=False / divisor")
            pooled = Pool2d("avg", module.kernel_size, module.stride, module.padding)
            _set_module(self.gm, node.target, pooled)
            self.shapes[pooled] = _sample_shape(source)
        elif isinstance(module, (nn.Conv2d, nn.Linear, MultiStepNeuron, ThresholdUnit, Pool2d, Flatten)):
            self.shapes[module] = _sample_shape(source)
        else:
            raise _refuse(self.model, f"{node.target} ({type(module).__name__})", "no NIR node for this layer")

    def _fold_bn(self, node: torch.fx.Node, bn: nn.Module, source: torch.fx.Node) -> None:
        prev = self.gm.get_submodule(source.target) if source.op == "call_module" else None
        foldable = isinstance(prev, nn.Conv2d if isinstance(bn, nn.BatchNorm2d) else nn.Linear)
        if not foldable or len(source.users) != 1:
            raise _refuse(
                self.model,
                f"{node.target} ({type(bn).__name__})",
                "NIR has no BatchNorm and this one does not follow a convolution / linear layer it can fold into",
            )
        fuse = fuse_linear_bn_eval if isinstance(prev, nn.Linear) else fuse_conv_bn_eval
        fused = fuse(prev.eval(), bn.eval())
        _set_module(self.gm, source.target, fused)
        self.shapes[fused] = self.shapes.pop(prev)
        node.replace_all_uses_with(source)
        self.gm.graph.erase_node(node)

    def _spike_max_pool(self, node: torch.fx.Node, mp: nn.MaxPool2d, source: torch.fx.Node) -> None:
        where = f"{node.target} (MaxPool2d)"
        if not _is_spike_source(self.gm, source):
            raise _refuse(
                self.model,
                where,
                "max pooling of a non-spike tensor; NIR 1.0 has only sum / average pooling (max pooling of "
                "binary spikes exports as a window sum + threshold)",
            )
        if mp.ceil_mode or mp.dilation not in (1, (1, 1)):
            raise _refuse(self.model, where, "ceil_mode / dilation have no NIR pooling equivalent")
        pooled = Pool2d(self.pool, mp.kernel_size, mp.stride, mp.padding)
        # Binary input: the window holds 0..k*k spikes; any spike <=> sum > 0.5 <=> average > 0.5 / (k*k).
        window = pooled.kernel_size[0] * pooled.kernel_size[1]
        unit = ThresholdUnit(0.5 if self.pool == "sum" else 0.5 / window)
        _set_module(self.gm, node.target, nn.Sequential(pooled, unit))
        self.shapes[pooled] = _sample_shape(source)
        self.shapes[unit] = _sample_shape(node)

    def _global_pool(self, node: torch.fx.Node) -> None:
        source = node.args[0]
        dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        shape = source.meta["tensor_meta"].shape
        spatial = {len(shape) - 2, len(shape) - 1}
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(shape) != 5 or {d % len(shape) for d in dims} != spatial or node.kwargs.get("keepdim"):
            raise _refuse(self.model, _where(node), "a mean over other dimensions than the spatial ones")
        height, width = int(shape[-2]), int(shape[-1])
        pooled, flat = Pool2d(self.pool, (height, width)), Flatten(0, -1)
        name = "global_pool"
        while hasattr(self.gm, name):
            name += "_"
        self.gm.add_submodule(name, nn.Sequential(pooled, flat))
        with self.gm.graph.inserting_after(node):
            new = self.gm.graph.call_module(name, (source,))
        new.meta["tensor_meta"] = node.meta["tensor_meta"]  # [T, B, C], as the mean gave
        node.replace_all_uses_with(new)
        self.gm.graph.erase_node(node)
        self.shapes[pooled] = _sample_shape(source)
        self.shapes[flat] = (int(shape[2]), 1, 1)
        if self.pool == "sum":  # sum pool, then the classifier divides: fold 1 / (H * W) into its weight
            for user in new.users:
                layer = self.gm.get_submodule(user.target) if user.op == "call_module" else None
                if not isinstance(layer, nn.Linear):
                    raise _refuse(self.model, _where(node), "pool='sum' needs the global pool to feed a Linear layer")
                with torch.no_grad():
                    layer.weight.mul_(1.0 / (height * width))


# -- our node map: torch module -> NIR node ------------------------------------------------------------
def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy().copy()


def _conv(module: nn.Conv2d, shape: tuple[int, ...]):
    import nir

    if module.padding_mode != "zeros":
        raise NIRConversionError(f"{type(module).__name__}: padding_mode={module.padding_mode!r}; NIR pads with zeros.")
    bias = _np(module.bias) if module.bias is not None else np.zeros(module.out_channels, dtype=np.float32)
    padding = module.padding if isinstance(module.padding, str) else np.array(module.padding)
    return nir.Conv2d(
        input_shape=tuple(shape[1:]),
        weight=_np(module.weight),
        stride=np.array(module.stride),
        padding=padding,
        dilation=np.array(module.dilation),
        groups=module.groups,
        bias=bias,
    )


def _linear(module: nn.Linear, shape: tuple[int, ...]):
    import nir

    if module.bias is None:
        return nir.Linear(weight=_np(module.weight))
    return nir.Affine(weight=_np(module.weight), bias=_np(module.bias))


def _pool(module: Pool2d, shape: tuple[int, ...]):
    import nir

    cls = nir.SumPool2d if module.kind == "sum" else nir.AvgPool2d
    return cls(
        kernel_size=np.array(module.kernel_size), stride=np.array(module.stride), padding=np.array(module.padding)
    )


def _flatten(module: Flatten, shape: tuple[int, ...]):
    import nir

    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=module.start_dim, end_dim=module.end_dim)


def _node_map(gm: torch.fx.GraphModule, shapes: dict[nn.Module, tuple[int, ...]], dt: float) -> dict[type, Callable]:
    """``{module class: module -> NIR node}`` for nirtorch, for every class in ``gm`` (subclasses included)."""
    names = {module: name for name, module in gm.named_modules()}
    converters: list[tuple[type, Callable]] = [
        (nn.Conv2d, _conv),
        (nn.Linear, _linear),
        (Pool2d, _pool),
        (Flatten, _flatten),
        (ThresholdUnit, lambda m, shape: threshold_unit_to_nir(m, shape, dt)),
        ((IFNode, LIFNode, PLIFNode), lambda m, shape: neuron_to_nir(m, shape, dt, names.get(m, ""))),
    ]
    mapping = {}
    for module in shapes:
        for classes, convert in converters:
            if isinstance(module, classes):
                mapping[type(module)] = lambda m, convert=convert: convert(m, shapes[m])
                break
    return mapping


def export_nir(
    model: nn.Module,
    sample_input: torch.Tensor,
    *,
    dt: float = NIR_DT,
    pool: str = "avg",
    type_check: bool = True,
):
    """``model`` (an IF / LIF / PLIF convolutional zoo SNN) as a ``nir.NIRGraph`` of one time step.

    Args:
        model: a zoo model (spiking_cnn_*, spiking_resnet*, sew_resnet* with connect='ADD', spiking_resnet19).
        sample_input: a static image batch [B, C, H, W] (direct encoding: the image is presented at every
            step) or event frames [T, B, C, H, W]; fixes the graph's input shape.
        dt: seconds per time step for the continuous-time neuron parameters (see :mod:`snn_zoo.nir.neurons`).
        pool: 'avg' (NIR AvgPool2d) or 'sum' (SumPool2d, the averaging folded into the next layer) for the
            global pool and the max-pool windows.
        type_check: let NIR check every edge's shapes.

    Raises:
        NIRExportError: in one line, naming the module and why NIR 1.0 cannot express it.
    """
    _, nirtorch = require_nir()
    reason = nir_support(model)
    if reason:
        raise NIRExportError(reason)
    if pool not in NIR_POOLS:
        raise ValueError(f"pool must be one of {list(NIR_POOLS)}, got {pool!r}.")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}.")
    if not isinstance(sample_input, torch.Tensor) or sample_input.dim() not in (4, 5):
        shape = tuple(sample_input.shape) if isinstance(sample_input, torch.Tensor) else type(sample_input).__name__
        raise ValueError(f"sample_input must be [B, C, H, W] or [T, B, C, H, W], got {shape}.")
    frames = sample_input.dim() == 5
    x_seq = model.to_sequence(sample_input.detach())[:1].float().cpu()  # one step is enough for the shapes

    gm = _trace_step(model)
    with torch.no_grad():
        ShapeProp(gm).propagate(x_seq)
    shapes = _Rewriter(model, gm, pool).run()
    graph = nirtorch.torch_to_nir(gm, _node_map(gm, shapes, dt), default_dict={}, type_check=type_check)
    graph.metadata = {
        "source": f"snn_zoo {_version()} export_nir",
        "model": _model_name(model),
        "time_steps": int(model.T),
        "dt": float(dt),
        "input_shape": np.array(x_seq.shape[2:]),
        "input_encoding": (
            "frames: one input frame per time step"
            if frames
            else "direct: the same static image is the input at every one of the time_steps steps"
        ),
        "readout": "logits = mean over the time_steps steps of the output",
        "threshold": "snn_zoo fires on h >= th; v_threshold is the largest float32 below th, so NIR's v > it agrees",
        "reset": "hard (v <- v_reset)",
        "pool": pool,
    }
    return graph


def _version() -> str:
    from .. import __version__

    return __version__
