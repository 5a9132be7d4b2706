"""The multi-step neuron as ``torch.library`` custom ops: ``snn_zoo::multistep_forward`` / ``_backward``.

One op per direction, with the plain-torch kernel as the implementation for every device and
the fused cupy kernel registered for CUDA (chosen by the ``backend`` argument), fake
implementations for tracing, and the backward registered with ``register_autograd``. To
``torch.compile`` (``fullgraph=True`` too), ``torch.export`` and AOTAutograd a neuron is then
one opaque node with known output shapes: no Python runs in the traced graph, and the same
kernels run compiled and eager, so compiled spikes equal eager spikes bit for bit.

The spec travels as plain arguments (op schemas take no dataclasses). ``save_h`` is decided by
the caller: the charged membrane ``h`` (one T x N tensor) is only produced when autograd needs it.

Under ``torch.compile`` (not ``torch.export``) :func:`multistep` runs :mod:`.traced` instead, the
same neuron as plain torch that Inductor fuses with its neighbours, unless ``backend='cupy'``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import torch_kernel, traced
from .backend import cupy_available
from .spec import NeuronSpec
from .torch_kernel import state_dtype


def _spec(
    kind: str,
    v_threshold: float,
    v_reset: float | None,
    surrogate: str,
    alpha: float,
    detach_reset: bool,
    decay_input: bool,
    decay: float,
) -> NeuronSpec:
    return NeuronSpec(
        kind=kind,
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate=surrogate,
        alpha=alpha,
        detach_reset=detach_reset,
        decay_input=decay_input,
        k=decay,
    )


def _spec_args(spec: NeuronSpec) -> tuple:
    return (
        spec.kind,
        float(spec.v_threshold),
        None if spec.v_reset is None else float(spec.v_reset),
        spec.surrogate,
        float(spec.alpha),
        bool(spec.detach_reset),
        bool(spec.decay_input),
        float(spec.k),
    )


def _use_cupy(backend: str, x: Tensor) -> bool:
    """On a CUDA tensor: cupy for 'cupy' (error when unusable) and for 'auto' when cupy works."""
    from .cupy_kernel import SUPPORTED_DTYPES

    if backend == "torch" or x.dtype not in SUPPORTED_DTYPES:  # fp64 has no fused kernel
        return False
    if cupy_available():
        return True
    if backend == "cupy":
        raise RuntimeError(
            "backend='cupy' was requested but cupy is not importable or sees no GPU; "
            "install it with `pip install \"snn_zoo[cuda]\"` or use backend='auto'/'torch'."
        )
    return False


def _like(out: Tensor, ref: Tensor) -> Tensor:
    """``out`` (contiguous, from the fused kernel) in the layout ``torch.empty_like(ref)`` has,
    which is what the fake implementations promise the compiler."""
    if ref.is_contiguous():
        return out
    return torch.empty_like(ref).copy_(out)


# -- forward ---------------------------------------------------------------------------------------------
@torch.library.custom_op("snn_zoo::multistep_forward", mutates_args=())
def multistep_forward(
    x_seq: Tensor,
    v_init: Tensor,
    k: Tensor | None,
    kind: str,
    v_threshold: float,
    v_reset: float | None,
    surrogate: str,
    alpha: float,
    detach_reset: bool,
    decay_input: bool,
    decay: float,
    backend: str,
    save_h: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """(spikes [T, ...] in x's dtype, v_last [...] in the state dtype (fp32, fp64 for fp64 x), h [T, ...] or
    empty) with the torch kernel."""
    spec = _spec(kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay)
    return torch_kernel.forward(x_seq, v_init, k, spec, save_h)


@multistep_forward.register_kernel("cuda")
def _multistep_forward_cuda(
    x_seq, v_init, k, kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay, backend, save_h
):
    spec = _spec(kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay)
    if _use_cupy(backend, x_seq):
        from . import cupy_kernel

        spikes, v_last, h_seq = cupy_kernel.forward(x_seq, v_init, k, spec, save_h)
        return _like(spikes, x_seq), v_last, _like(h_seq, x_seq) if save_h else h_seq
    return torch_kernel.forward(x_seq, v_init, k, spec, save_h)


@multistep_forward.register_fake
def _multistep_forward_fake(
    x_seq, v_init, k, kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay, backend, save_h
):
    spikes = torch.empty_like(x_seq)  # every implementation returns outputs in x's layout
    v_last = x_seq.new_empty(x_seq.shape[1:], dtype=state_dtype(x_seq.dtype))
    h_seq = torch.empty_like(spikes) if save_h else x_seq.new_empty((0,))
    return spikes, v_last, h_seq


# -- backward --------------------------------------------------------------------------------------------
@torch.library.custom_op("snn_zoo::multistep_backward", mutates_args=())
def multistep_backward(
    grad_spikes: Tensor,
    h_seq: Tensor,
    v_init: Tensor,
    k: Tensor | None,
    kind: str,
    v_threshold: float,
    v_reset: float | None,
    surrogate: str,
    alpha: float,
    detach_reset: bool,
    decay_input: bool,
    decay: float,
    backend: str,
) -> tuple[Tensor, Tensor]:
    """(grad_x [T, ...] in h's dtype, grad_k scalar in the state dtype; zero unless PLIF) with the torch kernel."""
    spec = _spec(kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay)
    return torch_kernel.backward(grad_spikes, h_seq, v_init, k, spec)


@multistep_backward.register_kernel("cuda")
def _multistep_backward_cuda(
    grad_spikes,
    h_seq,
    v_init,
    k,
    kind,
    v_threshold,
    v_reset,
    surrogate,
    alpha,
    detach_reset,
    decay_input,
    decay,
    backend,
):
    spec = _spec(kind, v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input, decay)
    if _use_cupy(backend, h_seq):  # same rule as the forward, so h comes from the same kernel
        from . import cupy_kernel

        grad_x, grad_k = cupy_kernel.backward(grad_spikes, h_seq, v_init, k, spec)
        return _like(grad_x, h_seq), grad_k
    return torch_kernel.backward(grad_spikes, h_seq, v_init, k, spec)


@multistep_backward.register_fake
def _multistep_backward_fake(
    grad_spikes,
    h_seq,
    v_init,
    k,
    kind,
    v_threshold,
    v_reset,
    surrogate,
    alpha,
    detach_reset,
    decay_input,
    decay,
    backend,
):
    return torch.empty_like(h_seq), h_seq.new_empty((), dtype=state_dtype(h_seq.dtype))


# -- autograd --------------------------------------------------------------------------------------------
_SPEC_ARGS = slice(3, 12)  # kind .. backend in multistep_forward's schema


def _setup_context(ctx, inputs, output) -> None:
    _, v_init, k = inputs[:3]
    ctx.spec_args = inputs[_SPEC_ARGS]
    ctx.k_meta = None if k is None else (k.shape, k.dtype)
    # v_init is only read by PLIF's dL/dk; not saving it otherwise keeps a view out of the saved set.
    ctx.save_for_backward(output[2], v_init if k is not None else None, k)
    ctx.set_materialize_grads(True)


def _backward(ctx, grad_spikes: Tensor, grad_v_last: Tensor | None, grad_h: Tensor | None):
    h_seq, v_init, k = ctx.saved_tensors
    if h_seq.numel() == 0 and grad_spikes.numel() > 0:
        raise RuntimeError(
            "snn_zoo::multistep_forward ran with save_h=False, so it cannot be differentiated; "
            "call it through snn_zoo.neurons.ops.multistep."
        )
    grad_x, grad_k = multistep_backward(grad_spikes, h_seq, v_init, k, *ctx.spec_args)
    grad_k_out = None
    if ctx.k_meta is not None:
        shape, dtype = ctx.k_meta
        grad_k_out = grad_k.reshape(shape).to(dtype)
    return (grad_x, None, grad_k_out) + (None,) * 10


torch.library.register_autograd("snn_zoo::multistep_forward", _backward, setup_context=_setup_context)


def multistep(
    x_seq: Tensor, v_init: Tensor, k: Tensor | None, spec: NeuronSpec, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """Run a neuron over all T steps: ``(spikes [T, ...] in x's dtype, v_last [...] in the state dtype)``.

    ``v_init`` broadcasts to one step; ``k`` is PLIF's decay (a one-element tensor, else None).
    ``h`` is only computed when autograd will need it (grad mode on and an input requiring grad).
    The state dtype is fp32, or fp64 for fp64 inputs (:func:`~snn_zoo.neurons.torch_kernel.state_dtype`).
    """
    if backend == "cupy" and not x_seq.is_cuda:
        raise RuntimeError(
            "backend='cupy' needs a CUDA tensor and a working cupy; move the model to a GPU "
            "and install the extra with `pip install \"snn_zoo[cuda]\"`, or use backend='torch'."
        )
    v_init = v_init.to(state_dtype(x_seq.dtype))
    if traced.use_traced(backend):
        return traced.multistep(x_seq, v_init, k, spec)
    save_h = torch.is_grad_enabled() and (x_seq.requires_grad or (k is not None and k.requires_grad))
    if v_init.shape != x_seq.shape[1:]:
        v_init = v_init.expand(x_seq.shape[1:])
    spikes, v_last, _ = multistep_forward(x_seq, v_init, k, *_spec_args(spec), backend, save_h)
    return spikes, v_last


def multistep_torch(x_seq: Tensor, v_init: Tensor, k: Tensor | None, spec: NeuronSpec) -> tuple[Tensor, Tensor]:
    """:func:`multistep` with the plain torch kernel on any device."""
    return multistep(x_seq, v_init, k, spec, backend="torch")


def multistep_cupy(x_seq: Tensor, v_init: Tensor, k: Tensor | None, spec: NeuronSpec) -> tuple[Tensor, Tensor]:
    """:func:`multistep` with the fused cupy kernel (CUDA tensors; fp64 falls back to the torch kernel)."""
    return multistep(x_seq, v_init, k, spec, backend="cupy")
