"""Throughput and memory of zoo models (timm's benchmark.py, with time steps), and KD cost.

* :func:`benchmark_model` / :func:`benchmark_models`: inference and/or training samples/s and the
  peak memory of one training step on random input, for one model or several with their steps
  interleaved; each model in a :class:`RunMode` (torch.compile, autocast dtype, channels-last,
  gradient checkpointing).
* :func:`relu_floor`: the same network with its neurons replaced by ReLU, run once on a T x B
  batch: the convolution cost an SNN of that shape cannot beat on the hardware.
* :func:`kd_overhead`: one training step with plain CE vs with ``snn_zoo.distill.Distiller``.

spikingjelly 2.0's equivalents live in :mod:`snn_zoo.eval.sj_adapter`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import gc
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..factory import create_model
from .sj_adapter import SpikingJellyModel, spikingjelly_equivalent

__all__ = [
    "RunMode",
    "SpikingJellyModel",
    "benchmark_model",
    "benchmark_models",
    "kd_overhead",
    "peak_step_memory_mb",
    "relu_floor",
    "spikingjelly_equivalent",
]


@dataclasses.dataclass(frozen=True)
class RunMode:
    """How a model runs in a benchmark.

    compile: ``torch.compile(model)`` (default Inductor settings; compile time is excluded: the
    warm-up steps compile). amp_dtype: autocast dtype or None (fp32). channels_last: model and
    input in channels-last layout. grad_checkpointing: '' (off), 'block' or 'packed' (per-block
    checkpointing, packed: binary block inputs at 1 bit; zoo models only). neuron_backend: '' (the
    model's own, 'auto') or 'cupy' (the fused kernel, kept under torch.compile; zoo models on CUDA only).
    """

    compile: bool = False
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    grad_checkpointing: str = ""
    neuron_backend: str = ""

    @property
    def label(self) -> str:
        parts = [
            "compile" if self.compile else "eager",
            str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "fp32",
        ]
        if self.channels_last:
            parts.append("channels_last")
        if self.grad_checkpointing:
            parts.append(f"ckpt-{self.grad_checkpointing}")
        if self.neuron_backend:
            parts.append(self.neuron_backend)
        return "+".join(parts)


# -- timing and memory ------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    step()
    _sync(device)
    return time.perf_counter() - t0


def _interleaved(
    steps: dict[str, Callable[[], Any]], num_warm_iter: int, num_bench_iter: int, device: torch.device
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(seconds per call of every step, calls interleaved (a, b, a, b, ...) after the warm-up;
    seconds of each step's first call: with torch.compile, the compile time plus one step).

    Interleaving makes a load change on a shared machine hit every candidate alike, so the
    comparison holds even when the absolute numbers drift.
    """
    first = {}
    for i in range(num_warm_iter):
        for name, step in steps.items():
            if i == 0:
                first[name] = _timed(step, device)
            else:
                step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(num_bench_iter):
        for name, step in steps.items():
            times[name].append(_timed(step, device))
    return times, first


def _timing(prefix: str, batch_size: int, times: list[float]) -> dict[str, float]:
    mean = statistics.fmean(times)
    return {
        f"{prefix}_samples_per_sec": batch_size / mean,
        f"{prefix}_step_time_ms": 1e3 * mean,
        f"{prefix}_step_time_ms_median": 1e3 * statistics.median(times),
        f"{prefix}_step_time_ms_min": 1e3 * min(times),
    }


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if match is None:
        raise OSError(f"{key} missing from /proc/self/status")
    return int(match.group(1))


@functools.lru_cache(maxsize=1)
def _pin_mmap_threshold() -> bool:
    """glibc: serve every allocation >= 128 KiB by mmap and return it at free (a fixed M_MMAP_THRESHOLD
    turns off glibc's adaptive threshold, which would keep freed tensors' pages in the heap and hide
    them from the resident set). True when set."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def peak_step_memory_mb(step: Callable[[], Any], device: torch.device) -> float | None:
    """Memory one call of ``step`` needs above what was live before it, in MiB.

    CUDA: ``max_memory_allocated`` minus ``memory_allocated`` before. CPU (Linux): the process's
    peak resident set (VmHWM, reset through /proc/self/clear_refs) minus its resident set before;
    with glibc's mmap threshold pinned, tensors >= 128 KiB are mmapped and returned at free, so this
    tracks tensor memory. None where
    neither is available.
    """
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    try:
        _pin_mmap_threshold()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = _proc_status_kb("VmRSS")
        step()
        return (_proc_status_kb("VmHWM") - base) / 1024
    except OSError:
        return None


# -- building -----------------------------------------------------------------------------------------------
def _resolve_device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'.")
    return dev


def _build(
    model: str | nn.Module,
    T: int | None,
    neuron: str | None,
    num_classes: int | None,
    in_chans: int | None,
    model_kwargs: dict | None,
) -> tuple[nn.Module, str]:
    if isinstance(model, nn.Module):
        return model, type(model).__name__
    kwargs = dict(model_kwargs or {})
    for key, value in (("T", T), ("neuron", neuron), ("num_classes", num_classes), ("in_chans", in_chans)):
        if value is not None:
            kwargs[key] = value
    return create_model(model, **kwargs), model


def _input_shape(net: nn.Module, batch_size: int, img_size: int | None, in_chans: int | None) -> tuple:
    cfg = getattr(net, "pretrained_cfg", None) or {}
    c, h, w = cfg.get("input_size", (getattr(net, "in_chans", 3), 224, 224))
    c = in_chans or getattr(net, "in_chans", c)
    if img_size is not None:
        h = w = img_size
    return (batch_size, c, h, w)


def relu_floor(model_name: str, T: int | None = None, **model_kwargs: Any) -> tuple[nn.Module, int]:
    """(the ReLU twin of ``model_name``, the time steps T its SNN runs): feed it a T x B batch.

    Same layers and weights shapes with every neuron replaced by ReLU (``neuron='relu'``, which
    runs each input once); on a batch of T * B images it does the convolutions the SNN does on
    B images over T steps, without the neuron recurrence.
    """
    snn = create_model(model_name, **({"T": T} if T is not None else {}), **model_kwargs)
    return create_model(model_name, **{**model_kwargs, "neuron": "relu"}), int(snn.T)


def _prepare(net: nn.Module, mode: RunMode) -> tuple[nn.Module, Callable]:
    """Apply ``mode`` to ``net``: returns (the module to call, the module whose parameters train)."""
    if mode.grad_checkpointing:
        if not hasattr(net, "set_grad_checkpointing"):
            raise ValueError(f"{type(net).__name__} has no set_grad_checkpointing; run it without checkpointing.")
        net.set_grad_checkpointing(True, pack_spikes=mode.grad_checkpointing == "packed")
    if mode.channels_last:
        net = net.to(memory_format=torch.channels_last)
    if not mode.compile:
        return net, net
    # Dynamo caches graphs per code object, so every compiled candidate of one class (modes, the ReLU floor,
    # train and eval) adds entries to the same forward; past the default limit of 8 it silently runs eager.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    return torch.compile(net), net


def _make_steps(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, mode: RunMode
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(inference step, training step) of ``net`` on the fixed batch ``(x, y)`` in ``mode``."""
    run, params_of = _prepare(net, mode)
    if mode.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def autocast():
        return (
            torch.autocast(device_type=x.device.type, dtype=mode.amp_dtype)
            if mode.amp_dtype is not None
            else contextlib.nullcontext()
        )

    opt = torch.optim.SGD(params_of.parameters(), lr=1e-4, momentum=0.9)

    def infer_step() -> None:
        with torch.no_grad(), autocast():
            run(x)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(run(x).float(), y)
        loss.backward()
        opt.step()

    return infer_step, train_step


def benchmark_models(
    models: dict[str, str | nn.Module],
    T: int | None = None,
    batch_size: int = 32,
    img_size: int | None = None,
    device: str | torch.device = "cpu",
    neuron: str | None = None,
    num_warm_iter: int = 2,
    num_bench_iter: int = 5,
    train: bool = True,
    infer: bool = True,
    num_classes: int | None = None,
    in_chans: int | None = None,
    amp_dtype: torch.dtype | None = None,
    model_kwargs: dict | None = None,
    seed: int = 0,
    modes: dict[str, RunMode] | None = None,
    batch_sizes: dict[str, int] | None = None,
    measure_memory: bool = True,
) -> dict[str, dict[str, Any]]:
    """:func:`benchmark_model` for several models at once, their steps interleaved.

    ``models`` maps a label to an snn_zoo name or a module; all get the same input batch (its
    shape from the first model's cfg unless ``img_size``/``in_chans`` are given). ``modes`` gives
    a :class:`RunMode` per label (default: ``RunMode(amp_dtype=amp_dtype)`` for all);
    ``batch_sizes`` another batch size per label (``--floor`` runs its ReLU twin on T x B).
    Returns ``{label: result}`` with the keys of :func:`benchmark_model`.
    """
    if not (train or infer):
        raise ValueError("Nothing to benchmark: enable train and/or infer.")
    if not models:
        raise ValueError("benchmark_models got no models.")
    if batch_size < 1 or num_bench_iter < 1 or num_warm_iter < 0:
        raise ValueError("batch_size and num_bench_iter must be >= 1, num_warm_iter >= 0.")
    modes = dict(modes or {})
    if any(m.compile for m in modes.values()) and num_warm_iter < 1:
        raise ValueError("compiled runs need num_warm_iter >= 1 (the first step compiles).")
    dev = _resolve_device(device)
    if measure_memory and dev.type == "cpu":
        _pin_mmap_threshold()  # before the steps allocate: see peak_step_memory_mb
    torch.manual_seed(seed)
    nets = {}
    for label, model in models.items():
        net, name = _build(model, T, neuron, num_classes, in_chans, model_kwargs)
        nets[label] = (net.to(dev), name)
    first = next(iter(nets.values()))[0]
    shape = _input_shape(first, batch_size, img_size, in_chans)
    n_cls = getattr(first, "num_classes", None) or 1000
    results: dict[str, dict[str, Any]] = {}
    steps = {}
    for label, (net, name) in nets.items():
        mode = modes.get(label, RunMode(amp_dtype=amp_dtype))
        b = (batch_sizes or {}).get(label, batch_size)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((b, *shape[1:]), generator=gen).to(dev)
        y = torch.randint(0, n_cls, (b,), generator=gen).to(dev)
        T, params = int(getattr(net, "T", 1) or 1), sum(p.numel() for p in net.parameters())
        results[label] = dict(model=name, T=T, batch_size=b, img_size=shape[-1], device=str(dev))
        results[label].update(neuron=getattr(net, "neuron", neuron), param_count=params, mode=mode.label)
        steps[label] = _make_steps(net, x, y, mode)
    for mode_name, on, index, train_mode in (("infer", infer, 0, False), ("train", train, 1, True)):
        if on:
            for net, _ in nets.values():
                net.train(train_mode)
            _time_steps(results, steps, mode_name, index, (num_warm_iter, num_bench_iter), dev, measure_memory)
    return results


def _time_steps(results: dict, steps: dict, mode_name: str, index: int, iters: tuple, dev, memory: bool) -> None:
    """Time every label's infer (index 0) or train (1) step, interleaved, into ``results``; then peak memory."""
    times, first = _interleaved({label: st[index] for label, st in steps.items()}, *iters, dev)
    for label, ts in times.items():
        results[label].update(_timing(mode_name, results[label]["batch_size"], ts))
        if label in first:
            results[label][f"{mode_name}_first_step_ms"] = 1e3 * first[label]
    if memory:
        for label, st in steps.items():  # one step each, alone, after the warm-up
            results[label][f"{mode_name}_peak_mem_mb"] = peak_step_memory_mb(st[index], dev)


def benchmark_model(model: str | nn.Module, **kwargs: Any) -> dict[str, Any]:
    """Time inference (eval, no_grad) and/or training steps (fwd + CE + bwd + SGD step) of one model.

    ``model`` is an snn_zoo name (built with ``T``, ``neuron``, ``num_classes``, ``in_chans``) or a
    module (e.g. :func:`spikingjelly_equivalent`); ``kwargs`` are those of :func:`benchmark_models`
    (T, batch_size, img_size, device, neuron, num_warm_iter, num_bench_iter, train, infer, ...;
    ``mode=RunMode(...)`` for compile / autocast / channels-last / checkpointing).
    Input is a random static batch [batch_size, C, img_size, img_size] (direct encoding).
    Returns ``model, T, batch_size, img_size, device, neuron, param_count, mode`` and for each mode
    run ``{infer,train}_samples_per_sec`` (images/s from the mean step time, as timm reports it),
    ``{infer,train}_step_time_ms`` (mean) and ``..._median`` / ``..._min``, and
    ``{infer,train}_peak_mem_mb`` (:func:`peak_step_memory_mb` of one step).
    """
    mode = kwargs.pop("mode", None)
    if mode is not None:
        kwargs["modes"] = {"model": mode}
    return benchmark_models({"model": model}, **kwargs)["model"]


def kd_overhead(
    model_name: str,
    T: int | None = None,
    batch_size: int = 32,
    img_size: int | None = None,
    device: str | torch.device = "cpu",
    neuron: str | None = None,
    num_warm_iter: int = 1,
    num_bench_iter: int = 3,
    method: str = "bkd",
    teacher: str | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
) -> dict[str, Any]:
    """Seconds of one training step with plain CE vs with ``Distiller(student, teacher, method)``.

    The teacher defaults to the student's ANN twin (same architecture, ``neuron='relu'``);
    ``teacher`` may name any snn_zoo architecture (built as its ANN twin, as distill.py does) or timm model. Returns
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
    elif is_model(teacher):  # a zoo architecture teaches as its ANN twin, as distill.py builds it
        t_net = create_model(teacher, neuron="relu", num_classes=n_cls, in_chans=student.in_chans)
        teacher_name = f"{teacher} (neuron='relu' twin)"
    else:
        t_net = timm.create_model(teacher, num_classes=n_cls, in_chans=student.in_chans)
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

    times, _ = _interleaved({"ce": ce_step, "kd": kd_step}, num_warm_iter, num_bench_iter, dev)
    ce, kd = (sum(times[k]) / len(times[k]) for k in ("ce", "kd"))
    return dict(
        model=model_name,
        teacher=teacher_name,
        method=method,
        T=int(student.T),
        batch_size=batch_size,
        img_size=shape[-1],
        device=str(dev),
        ce_step_time_ms=1e3 * ce,
        kd_step_time_ms=1e3 * kd,
        kd_overhead=kd / ce,
    )
