"""spikingjelly 2.0 counterparts of zoo models and neurons, for like-for-like timing and parity tests.

* :func:`spikingjelly_equivalent`: the same architecture built from spikingjelly 2.0's model zoo
  (same neuron, tau, surrogate, reset, stem, T), behind our input/output contract.
* :func:`sj_neuron`: spikingjelly's neuron class and kwargs matching one of ours.
* :func:`sj_multistep`: a multi-step spikingjelly neuron call on shared inputs (its functional
  fused path with an fp32 ``v``, or its module), for the neuron-kernel benchmark and tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
from spikingjelly.activation_based import functional

from ..layers import to_sequence
from ..neurons import get_surrogate
from ..neurons.kinds import get_neuron_kind

__all__ = ["SpikingJellyModel", "sj_multistep", "sj_neuron", "spikingjelly_equivalent"]

_SJ_NAME = re.compile(r"^(sew|spiking)_resnet(\d+)(_cifar)?$")
_SJ_DEPTHS = {"sew": (18, 34, 50, 101, 152), "spiking": (18, 34, 50, 101, 152)}


class SpikingJellyModel(nn.Module):
    """A spikingjelly multi-step network behind snn_zoo's contract.

    Input [B, C, H, W] (repeated T times, like ``SpikingModel.to_sequence``) or [T, B, C, H, W];
    neuron state reset on every forward; returns the time-averaged logits [B, num_classes].
    """

    def __init__(self, net: nn.Module, T: int, num_classes: int, in_chans: int):
        super().__init__()
        self.net = net
        self.T = T
        self.num_classes = num_classes
        self.in_chans = in_chans

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self.net)
        return self.net(to_sequence(x, self.T)).mean(0)


def sj_neuron(
    neuron: str,
    tau: float = 2.0,
    surrogate: str = "sigmoid",
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    decay_input: bool = True,
    alpha: float | None = None,
) -> tuple[Callable, dict]:
    """(spikingjelly neuron class, its kwargs) matching one of our neurons, in multi-step mode."""
    from spikingjelly.activation_based import neuron as sj

    sg = get_surrogate(surrogate)
    common = dict(
        v_threshold=v_threshold,
        v_reset=v_reset,
        detach_reset=detach_reset,
        step_mode="m",
        surrogate_function=sg.sj_class(alpha=sg.default_alpha if alpha is None else alpha),
    )
    kind = get_neuron_kind(neuron)
    if kind.leaky:
        common.update({kind.sj_tau_kwarg: tau, "decay_input": decay_input})
    return getattr(sj, kind.sj_class), common


def spikingjelly_equivalent(
    model_name: str,
    T: int = 4,
    neuron: str = "lif",
    tau: float = 2.0,
    surrogate: str = "sigmoid",
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    decay_input: bool = True,
    num_classes: int | None = None,
    in_chans: int = 3,
    connect: str = "ADD",
    **unused: Any,
) -> SpikingJellyModel:
    """spikingjelly 2.0's build of ``model_name`` with the same SNN settings as ours.

    Supported: ``sew_resnet{18,34,50,101,152}[_cifar]`` (``spikingjelly...model.sew_resnet``,
    ``cnf=connect``), ``spiking_resnet{18,34,50,101,152}[_cifar]`` (``...model.spiking_resnet``) and
    ``spikformer_4_384_cifar`` (``...model.spikformer.spikformer_cifar10``: same depth, width, heads
    and token grid; its layer names and biases differ from ours, so weights are not shared).
    Neurons: spikingjelly's IFNode / LIFNode / ParametricLIFNode with the same tau, threshold,
    reset, surrogate (class and alpha), detach_reset and decay_input, ``step_mode='m'``
    everywhere (``functional.set_step_mode``). spikingjelly's ResNets have only the ImageNet
    stem with 3 input channels: for ``_cifar`` names conv1 becomes a 3x3/1 conv and the max-pool
    an identity, exactly like ours; another ``in_chans`` replaces conv1 likewise.
    ``num_classes`` defaults to the model's pretrained cfg (10 for CIFAR names, else 1000).
    Note: spikingjelly's Bottleneck computes IAND with its arguments reversed relative to the SEW
    paper (arXiv:2102.04159); timing is unaffected, outputs differ for ``connect='IAND'`` with
    depth >= 50.
    """
    from spikingjelly.activation_based import layer as sj_layer
    from spikingjelly.activation_based.model import sew_resnet as sj_sew
    from spikingjelly.activation_based.model import spiking_resnet as sj_spiking

    if model_name.split(".")[0] == "spikformer_4_384_cifar":
        from spikingjelly.activation_based.model import spikformer as sj_spikformer

        cls, neuron_kwargs = sj_neuron(neuron, tau, surrogate, v_threshold, v_reset, detach_reset, decay_input)
        net = sj_spikformer.spikformer_cifar10(
            T=T, num_classes=10 if num_classes is None else num_classes, spiking_neuron=cls, **neuron_kwargs
        )
        functional.set_step_mode(net, "m")
        return SpikingJellyModel(net, T=T, num_classes=net.head.out_features, in_chans=3)
    m = _SJ_NAME.match(model_name.split(".")[0])
    if m is None or int(m.group(2)) not in _SJ_DEPTHS[m.group(1)]:
        raise NotImplementedError(
            f"No spikingjelly equivalent for {model_name!r}; supported: sew_resnet{{18,34,50,101,152}}[_cifar], "
            f"spiking_resnet{{18,34,50,101,152}}[_cifar], spikformer_4_384_cifar."
        )
    family, depth, cifar = m.group(1), int(m.group(2)), bool(m.group(3))
    if num_classes is None:
        num_classes = 10 if cifar else 1000
    cls, neuron_kwargs = sj_neuron(neuron, tau, surrogate, v_threshold, v_reset, detach_reset, decay_input)
    if family == "sew":
        net = getattr(sj_sew, f"sew_resnet{depth}")(
            cnf=connect, spiking_neuron=cls, num_classes=num_classes, **neuron_kwargs
        )
    else:
        net = getattr(sj_spiking, f"spiking_resnet{depth}")(
            spiking_neuron=cls, num_classes=num_classes, **neuron_kwargs
        )
    if cifar or in_chans != 3:
        k, s, p = (3, 1, 1) if cifar else (7, 2, 3)
        net.conv1 = sj_layer.Conv2d(in_chans, net.conv1.out_channels, k, stride=s, padding=p, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        if cifar:
            net.maxpool = nn.Identity()
    functional.set_step_mode(net, "m")
    return SpikingJellyModel(net, T=T, num_classes=num_classes, in_chans=in_chans)


def sj_multistep(
    kind: str, x: torch.Tensor, v0: torch.Tensor, w: torch.Tensor, tau: float = 2.0, api: str = "functional"
) -> tuple[Callable[[], torch.Tensor], list[torch.Tensor]]:
    """(forward() -> spikes, tensors to differentiate) for spikingjelly's multi-step ``kind`` neuron.

    ``api='functional'`` calls ``functional.<kind>_multi_step`` with an fp32 ``v`` (its fused CUDA
    path needs one; its modules keep ``v`` in the input dtype), ``'module'`` its IF/LIF/PLIF module.
    LIF/PLIF: decay_input, threshold 1, hard reset to 0, sigmoid surrogate (alpha 4); PLIF's decay
    is ``sigmoid(w)``.
    """
    from spikingjelly.activation_based import neuron as sjn
    from spikingjelly.activation_based import surrogate as sjs

    sg = sjs.Sigmoid(alpha=4.0)
    nk = get_neuron_kind(kind)
    inputs = [x, w] if nk.learned_decay else [x]
    if api == "functional":
        fn = getattr(functional, nk.sj_functional)
        # (x, v, [decay: w for PLIF, tau for LIF, decay_input,] v_threshold, v_reset, surrogate, detach_reset)
        decay = ((w if nk.learned_decay else tau), True) if nk.leaky else ()
        return (lambda: fn(x, v0, *decay, 1.0, 0.0, sg, False)[0]), inputs
    tau_kwarg = {nk.sj_tau_kwarg: tau} if nk.leaky else {}
    node = getattr(sjn, nk.sj_class)(surrogate_function=sg, step_mode="m", **tau_kwarg)
    if nk.learned_decay:
        inputs = [x, node.w]  # the module's own parameter
    node = node.to(x.device)

    def run() -> torch.Tensor:
        functional.reset_net(node)
        return node(x)

    return run, inputs
