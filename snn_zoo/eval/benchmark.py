"""Throughput of zoo models (timm's benchmark.py, with time steps), spikingjelly parity, KD cost.

* :func:`benchmark_model` / :func:`benchmark_models`: inference and/or training samples/s on
  random input, for one model or several with their steps interleaved.
* :func:`spikingjelly_equivalent`: the same architecture built from spikingjelly 2.0's model zoo
  (same neuron, tau, surrogate, reset, stem, T), wrapped to our input/output contract, so
  ``benchmark_model`` can time both in one process.
* :func:`kd_overhead`: one training step with plain CE vs with ``snn_zoo.distill.Distiller``.
"""
from __future__ import annotations

import contextlib
import re
import statistics
import time
from typing import Any, Callable, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from ..factory import create_model
from ..layers import to_sequence

__all__ = ["SpikingJellyModel", "benchmark_model", "benchmark_models", "kd_overhead", "spikingjelly_equivalent"]

_SJ_NAME = re.compile(r"^(sew|spiking)_resnet(\d+)(_cifar)?$")
_SJ_DEPTHS = {"sew": (18, 34, 50, 101, 152), "spiking": (18, 34, 50, 101, 152)}


# -- spikingjelly's equivalent ----------------------------------------------------------------------------
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


def _sj_neuron(neuron: str, tau: float, surrogate: str, v_threshold: float, v_reset: Optional[float],
               detach_reset: bool, decay_input: bool) -> tuple[Callable, dict]:
    """(spikingjelly neuron class, its kwargs) matching one of our neurons."""
    from spikingjelly.activation_based import neuron as sj_neuron

    from ..neurons import get_surrogate

    sg = get_surrogate(surrogate)
    common = dict(v_threshold=v_threshold, v_reset=v_reset, surrogate_function=sg.sj_class(alpha=sg.default_alpha),
                  detach_reset=detach_reset, step_mode="m")
    if neuron == "if":
        return sj_neuron.IFNode, common
    if neuron == "lif":
        return sj_neuron.LIFNode, dict(common, tau=tau, decay_input=decay_input)
    if neuron == "plif":
        return sj_neuron.ParametricLIFNode, dict(common, init_tau=tau, decay_input=decay_input)
    raise ValueError(f"spikingjelly has no equivalent for neuron={neuron!r}; use 'if', 'lif' or 'plif'.")


def spikingjelly_equivalent(
    model_name: str,
    T: int = 4,
    neuron: str = "lif",
    tau: float = 2.0,
    surrogate: str = "sigmoid",
    v_threshold: float = 1.0,
    v_reset: Optional[float] = 0.0,
    detach_reset: bool = False,
    decay_input: bool = True,
    num_classes: Optional[int] = None,
    in_chans: int = 3,
    connect: str = "ADD",
    **unused: Any,
) -> SpikingJellyModel:
    """spikingjelly 2.0's build of ``model_name`` with the same SNN settings as ours.

    Supported: ``sew_resnet{18,34,50,101,152}[_cifar]`` (``spikingjelly...model.sew_resnet``,
    ``cnf=connect``) and ``spiking_resnet{18,34,50,101,152}[_cifar]`` (``...model.spiking_resnet``).
    Neurons: spikingjelly's IFNode / LIFNode / ParametricLIFNode with the same tau, threshold,
    reset, surrogate (class and alpha), detach_reset and decay_input, ``step_mode='m'``
    everywhere (``functional.set_step_mode``). spikingjelly's ResNets have only the ImageNet
    stem with 3 input channels: for ``_cifar`` names conv1 becomes a 3x3/1 conv and the max-pool
    an identity, exactly like ours; another ``in_chans`` replaces conv1 likewise.
    ``num_classes`` defaults to the model's pretrained cfg (10 for CIFAR names, else 1000).
    Note: spikingjelly's Bottleneck computes IAND with its arguments reversed relative to the SEW
    paper (arXiv:2102.04159);
    timing is unaffected, outputs differ for ``connect='IAND'`` with depth >= 50.
    """
    from spikingjelly.activation_based import layer as sj_layer
    from spikingjelly.activation_based.model import sew_resnet as sj_sew
    from spikingjelly.activation_based.model import spiking_resnet as sj_spiking

    m = _SJ_NAME.match(model_name.split(".")[0])
    if m is None or int(m.group(2)) not in _SJ_DEPTHS[m.group(1)]:
        raise NotImplementedError(
            f"No spikingjelly equivalent for {model_name!r}; supported: sew_resnet{{18,34,50,101,152}}[_cifar], "
            f"spiking_resnet{{18,34,50,101,152}}[_cifar]."
        )
    family, depth, cifar = m.group(1), int(m.group(2)), bool(m.group(3))
    if num_classes is None:
        num_classes = 10 if cifar else 1000
    cls, neuron_kwargs = _sj_neuron(neuron, tau, surrogate, v_threshold, v_reset, detach_reset, decay_input)
    if family == "sew":
        net = getattr(sj_sew, f"sew_resnet{depth}")(cnf=connect, spiking_neuron=cls, num_classes=num_classes,
                                                     **neuron_kwargs)
    else:
        net = getattr(sj_spiking, f"spiking_resnet{depth}")(spiking_neuron=cls, num_classes=num_classes,
                                                            **neuron_kwargs)
    if cifar or in_chans != 3:
        k, s, p = (3, 1, 1) if cifar else (7, 2, 3)
        net.conv1 = sj_layer.Conv2d(in_chans, net.conv1.out_channels, k, stride=s, padding=p, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        if cifar:
            net.maxpool = nn.Identity()
    functional.set_step_mode(net, "m")
    return SpikingJellyModel(net, T=T, num_classes=num_classes, in_chans=in_chans)


# -- timing -----------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _interleaved(steps: dict[str, Callable[[], Any]], num_warm_iter: int, num_bench_iter: int,
                 device: torch.device) -> dict[str, list[float]]:
    """Seconds per call of every step, calls interleaved (a, b, a, b, ...) after the warm-up.

    Interleaving makes a load change on a shared machine hit every candidate alike, so the
    comparison holds even when the absolute numbers drift.
    """
    for _ in range(num_warm_iter):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(num_bench_iter):
        for name, step in steps.items():
            _sync(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def _timing(prefix: str, batch_size: int, times: list[float]) -> dict[str, float]:
    mean = statistics.fmean(times)
    return {f"{prefix}_samples_per_sec": batch_size / mean, f"{prefix}_step_time_ms": 1e3 * mean,
            f"{prefix}_step_time_ms_median": 1e3 * statistics.median(times),
            f"{prefix}_step_time_ms_min": 1e3 * min(times)}


def _resolve_device(device: Union[str, torch.device]) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'.")
    return dev


def _build(model: Union[str, nn.Module], T: Optional[int], neuron: Optional[str], num_classes: Optional[int],
           in_chans: Optional[int], model_kwargs: Optional[dict]) -> tuple[nn.Module, str]:
    if isinstance(model, nn.Module):
        return model, type(model).__name__
    kwargs = dict(model_kwargs or {})
    for key, value in (("T", T), ("neuron", neuron), ("num_classes", num_classes), ("in_chans", in_chans)):
        if value is not None:
            kwargs[key] = value
    return create_model(model, **kwargs), model


def _input_shape(net: nn.Module, batch_size: int, img_size: Optional[int], in_chans: Optional[int]) -> tuple:
    cfg = getattr(net, "pretrained_cfg", None) or {}
    c, h, w = cfg.get("input_size", (getattr(net, "in_chans", 3), 224, 224))
    c = in_chans or getattr(net, "in_chans", c)
    if img_size is not None:
        h = w = img_size
    return (batch_size, c, h, w)


def _make_steps(net: nn.Module, x: torch.Tensor, y: torch.Tensor, amp_dtype: Optional[torch.dtype]
                ) -> tuple[Callable[[], None], Callable[[], None]]:
    """(inference step, training step) of ``net`` on the fixed batch ``(x, y)``."""
    def autocast():
        return (torch.autocast(device_type=x.device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())

    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)

    def infer_step() -> None:
        with torch.no_grad(), autocast():
            net(x)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(net(x).float(), y)
        loss.backward()
        opt.step()

    return infer_step, train_step


def benchmark_models(
    models: dict[str, Union[str, nn.Module]],
    T: Optional[int] = None,
    batch_size: int = 32,
    img_size: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    neuron: Optional[str] = None,
    num_warm_iter: int = 2,
    num_bench_iter: int = 5,
    train: bool = True,
    infer: bool = True,
    num_classes: Optional[int] = None,
    in_chans: Optional[int] = None,
    amp_dtype: Optional[torch.dtype] = None,
    model_kwargs: Optional[dict] = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """:func:`benchmark_model` for several models at once, their steps interleaved.

    ``models`` maps a label to an snn_zoo name or a module; all get the same input batch (its
    shape from the first model's cfg unless ``img_size``/``in_chans`` are given). Returns
    ``{label: result}`` with the keys of :func:`benchmark_model`.
    """
    if not (train or infer):
        raise ValueError("Nothing to benchmark: enable train and/or infer.")
    if not models:
        raise ValueError("benchmark_models got no models.")
    if batch_size < 1 or num_bench_iter < 1 or num_warm_iter < 0:
        raise ValueError("batch_size and num_bench_iter must be >= 1, num_warm_iter >= 0.")
    dev = _resolve_device(device)
    torch.manual_seed(seed)
    nets = {}
    for label, model in models.items():
        net, name = _build(model, T, neuron, num_classes, in_chans, model_kwargs)
        nets[label] = (net.to(dev), name)
    first = next(iter(nets.values()))[0]
    shape = _input_shape(first, batch_size, img_size, in_chans)
    x = torch.randn(shape, device=dev)
    n_cls = getattr(first, "num_classes", None) or 1000
    y = torch.randint(0, n_cls, (batch_size,), device=dev)
    results: dict[str, dict[str, Any]] = {}
    steps = {}
    for label, (net, name) in nets.items():
        results[label] = dict(
            model=name, T=int(getattr(net, "T", 1) or 1), batch_size=batch_size, img_size=shape[-1],
            device=str(dev), neuron=getattr(net, "neuron", neuron), param_count=sum(p.numel() for p in net.parameters()),
        )
        steps[label] = _make_steps(net, x, y, amp_dtype)
    for mode, on, index, train_mode in (("infer", infer, 0, False), ("train", train, 1, True)):
        if not on:
            continue
        for net, _ in nets.values():
            net.train(train_mode)
        times = _interleaved({label: st[index] for label, st in steps.items()}, num_warm_iter, num_bench_iter, dev)
        for label, ts in times.items():
            results[label].update(_timing(mode, batch_size, ts))
    return results


def benchmark_model(model: Union[str, nn.Module], **kwargs: Any) -> dict[str, Any]:
    """Time inference (eval, no_grad) and/or training steps (fwd + CE + bwd + SGD step) of one model.

    ``model`` is an snn_zoo name (built with ``T``, ``neuron``, ``num_classes``, ``in_chans``) or a
    module (e.g. :func:`spikingjelly_equivalent`); ``kwargs`` are those of :func:`benchmark_models`
    (T, batch_size, img_size, device, neuron, num_warm_iter, num_bench_iter, train, infer, ...).
    Input is a random static batch [batch_size, C, img_size, img_size] (direct encoding).
    Returns ``model, T, batch_size, img_size, device, neuron, param_count`` and for each mode run
    ``{infer,train}_samples_per_sec`` (images/s from the mean step time, as timm reports it),
    ``{infer,train}_step_time_ms`` (mean) and ``..._median`` / ``..._min``.
    """
    return benchmark_models({"model": model}, **kwargs)["model"]


def kd_overhead(
    model_name: str,
    T: Optional[int] = None,
    batch_size: int = 32,
    img_size: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    neuron: Optional[str] = None,
    num_warm_iter: int = 1,
    num_bench_iter: int = 3,
    method: str = "bkd",
    teacher: Optional[str] = None,
    num_classes: Optional[int] = None,
    in_chans: Optional[int] = None,
) -> dict[str, Any]:
    """Seconds of one training step with plain CE vs with ``Distiller(student, teacher, method)``.

    The teacher defaults to the student's ANN twin (same architecture, ``neuron='relu'``);
    ``teacher`` may name any snn_zoo or timm model with the same number of classes. Returns
    ``ce_step_time_ms``, ``kd_step_time_ms`` and ``kd_overhead`` (= kd / ce).
    """
    import timm

    from ..distill import Distiller
    from ..factory import is_model

    dev = _resolve_device(device)
    torch.manual_seed(0)
    student, _ = _build(model_name, T, neuron, num_classes, in_chans, None)
    student = student.to(dev)
    n_cls = student.num_classes
    if teacher is None:
        t_net = create_model(model_name, neuron="relu", num_classes=n_cls, in_chans=student.in_chans)
        teacher_name = f"{model_name} (neuron='relu' twin)"
    else:
        maker = create_model if is_model(teacher) else timm.create_model
        t_net = maker(teacher, num_classes=n_cls, in_chans=student.in_chans)
        teacher_name = teacher
    t_net = t_net.to(dev)
    shape = _input_shape(student, batch_size, img_size, in_chans)
    x = torch.randn(shape, device=dev)
    y = torch.randint(0, n_cls, (batch_size,), device=dev)

    student.train()
    opt = torch.optim.SGD(student.parameters(), lr=1e-4, momentum=0.9)

    def ce_step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(student(x), y).backward()
        opt.step()

    distiller = Distiller(student, t_net, method=method).to(dev)
    distiller.train()
    kd_opt = torch.optim.SGD(list(distiller.trainable_parameters()), lr=1e-4, momentum=0.9)

    def kd_step() -> None:
        kd_opt.zero_grad(set_to_none=True)
        distiller(x, y)["loss"].backward()
        kd_opt.step()

    times = _interleaved({"ce": ce_step, "kd": kd_step}, num_warm_iter, num_bench_iter, dev)
    ce, kd = (sum(times[k]) / len(times[k]) for k in ("ce", "kd"))
    return dict(model=model_name, teacher=teacher_name, method=method, T=int(student.T), batch_size=batch_size,
                img_size=shape[-1], device=str(dev), ce_step_time_ms=1e3 * ce, kd_step_time_ms=1e3 * kd,
                kd_overhead=kd / ce)
