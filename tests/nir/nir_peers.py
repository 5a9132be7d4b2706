"""Tiny models of every NIR-covered family, and runners for the peer simulators (snntorch, norse).

How each peer reads our graph, and the two adaptations (both about calling conventions, never numbers):

* snntorch 1.0.0: ``snntorch.import_nir.import_from_nir(graph)`` as is (hard-codes dt = 1e-4, as we do).
* norse 1.1.0: norse's own node map (``norse.torch.utils.import_nir._import_norse_module``, what
  ``norse.torch.from_nir`` applies to each node) wired by nirtorch 2.6's ``nir_to_torch``. norse's
  ``from_nir`` itself calls the deprecated ``nirtorch.load``, whose executor orders nodes depth-first
  (preorder), so a residual join runs before its second branch: on a SEW ResNet it raises a shape error
  or returns the wrong node's tensor ([4, 8, 8] instead of 5 logits). ``test_norse_from_nir_public_api``
  runs it as is on the plain CNN, where the order is right.
* Both apply NIR's ``Flatten`` dims (which count per-sample dims) to the batched torch tensor; to run a
  batch at once we shift their Flatten by one dimension (checked against one-sample-at-a-time runs).
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings

import torch
import torch.nn as nn

import snn_zoo
from snn_zoo.neurons import MultiStepNeuron

# family -> (architecture, kwargs of a tiny random model, input [C, H, W])
FAMILIES = {
    "spiking_cnn": ("spiking_cnn_tiny", dict(width=4), (1, 8, 8)),
    "sew_resnet": ("sew_resnet18_cifar", dict(widths=(4, 4, 8, 8), in_chans=1), (1, 8, 8)),
    "sew_resnet_bottleneck": (
        "sew_resnet50_cifar",
        dict(layers=(1, 1, 1, 1), widths=(2, 2, 4, 4), in_chans=1),
        (1, 8, 8),
    ),
    "sew_resnet_imagenet_stem": ("sew_resnet18", dict(widths=(4, 4, 8, 8), in_chans=1), (1, 16, 16)),
    "spiking_resnet": ("spiking_resnet18_cifar", dict(widths=(4, 4, 8, 8), in_chans=1), (1, 8, 8)),
    "spiking_resnet_imagenet_stem": ("spiking_resnet18", dict(widths=(4, 4, 8, 8), in_chans=1), (1, 16, 16)),
    "spiking_resnet19": (
        "spiking_resnet19",
        dict(layers=(1, 1, 1), widths=(8, 8, 16), stem_width=4, hidden_dim=8, in_chans=1),
        (1, 8, 8),
    ),
}
# Neuron settings exported: IF, LIF both ways of decay_input, PLIF (learned tau, set to a random value).
NEURONS = {
    "lif": dict(neuron="lif"),
    "lif_no_decay_input": dict(neuron="lif", decay_input=False, tau=3.0),
    "plif": dict(neuron="plif"),
    "if": dict(neuron="if"),
}


def randomize(model: nn.Module, x: torch.Tensor, seed: int) -> nn.Module:
    """Random BN affine and PLIF taus, BN statistics of ``x`` itself: every layer fires at a moderate rate."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.momentum = 1.0  # the one forward below sets the running statistics
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.rand(n, generator=gen) * 0.8)
            if hasattr(module, "w") and isinstance(module, MultiStepNeuron):  # PLIF: tau in (1.5, 4)
                module.w.copy_(-torch.log(torch.rand((), generator=gen) * 2.5 + 0.5))
        if hasattr(model, "fc1"):  # ResNet-19's spiking head (no BN): drive it into firing
            model.fc1.weight.mul_(4.0)
            model.fc1.bias.fill_(0.5)
        model.train()(x)
    return model.eval()


def tiny_model(family: str, neuron: str, seed: int = 0, T: int = 4) -> tuple[nn.Module, torch.Tensor]:
    """(model, input batch of 8 images) for a family and neuron setting."""
    arch, kwargs, shape = FAMILIES[family]
    torch.manual_seed(seed)
    model = snn_zoo.create_model(arch, num_classes=5, T=T, **kwargs, **NEURONS[neuron])
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(8, *shape, generator=gen) * 2
    return randomize(model, x, seed), x


def firing_rates(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Mean spike rate of every neuron layer on ``x`` (to check a test is not vacuous)."""
    rates, hooks = [], []
    for module in model.modules():
        if isinstance(module, MultiStepNeuron):
            hooks.append(module.register_forward_hook(lambda m, i, o: rates.append(float(o.float().mean()))))
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return rates


def _steps(x: torch.Tensor, T: int, static: bool):
    return [x if static else x[t] for t in range(T)]


def _batch_flatten(net: nn.Module) -> nn.Module:
    """Peers apply NIR Flatten's per-sample dims to the batched tensor: shift them past the batch dim."""
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.Flatten) and module.start_dim >= 0:
            parent, _, child = name.rpartition(".")
            end = module.end_dim + 1 if module.end_dim >= 0 else module.end_dim
            setattr(net.get_submodule(parent) if parent else net, child, nn.Flatten(module.start_dim + 1, end))
    return net


def _run_stateful(net: nn.Module, x: torch.Tensor, T: int, static: bool) -> torch.Tensor:
    state, outs = None, []
    for x_t in _steps(x, T, static):
        out, state = net(x_t, state)
        outs.append(out)
    return torch.stack(outs)


def snntorch_outputs(graph, x: torch.Tensor, T: int, batched: bool = True) -> torch.Tensor:
    """Per-step outputs [T, B, ...] of snntorch's import of ``graph``; x is [B, ...] (static) or [T, B, ...]."""
    from snntorch.import_nir import import_from_nir

    static = x.dim() == len(graph.nodes[_input_name(graph)].input_type["input"]) + 1
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints per-node warnings
        warnings.simplefilter("ignore")
        net = import_from_nir(graph)
    if not batched:  # one sample at a time, unbatched: NIR's per-sample dims hold as written
        return torch.cat(
            [snntorch_outputs(graph, x[b : b + 1] if static else x[:, b : b + 1], T) for b in range(_batch(x, static))],
            dim=1,
        )
    net = _batch_flatten(net)
    for module in net.modules():
        if hasattr(module, "reset_mem"):
            module.reset_mem()
    with torch.no_grad():
        return _run_stateful(net, x, T, static)


def norse_outputs(graph, x: torch.Tensor, T: int, dt: float = 1e-4) -> torch.Tensor:
    """Per-step outputs [T, B, ...] of norse's node map on ``graph`` (see the module docstring)."""
    import nir
    import nirtorch
    from norse.torch.utils.import_nir import _import_norse_module

    static = x.dim() == len(graph.nodes[_input_name(graph)].input_type["input"]) + 1
    node = functools.partial(_import_norse_module, dt=dt, ignore_warnings=True)
    kinds = (nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten, nir.IF, nir.LIF, nir.SumPool2d)
    net = _batch_flatten(nirtorch.nir_to_torch(graph, {kind: node for kind in kinds}))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run_stateful(net, x, T, static)


def _input_name(graph) -> str:
    import nir

    return next(name for name, node in graph.nodes.items() if isinstance(node, nir.Input))


def _batch(x: torch.Tensor, static: bool) -> int:
    return x.shape[0] if static else x.shape[1]


def compare(reference: torch.Tensor, logits: torch.Tensor) -> dict:
    """Max |logit difference| and top-1 agreement of two [B, K] logit tensors."""
    diff = (reference - logits).abs().max().item()
    agree = (reference.argmax(-1) == logits.argmax(-1)).float().mean().item()
    return dict(max_abs_diff=diff, top1_agreement=agree)
