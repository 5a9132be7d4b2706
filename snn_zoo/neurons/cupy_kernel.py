"""Fused multi-step IF/LIF/PLIF neurons: CUDA kernels (``csrc/multistep.cu``) run through cupy.

Same semantics as :mod:`snn_zoo.neurons.torch_kernel`, but each direction is ONE kernel
launch over all T steps: one thread per neuron walks time on the ``[T, N]`` view of the
input (N = numel of one step), with ``v`` in fp32 registers. Forward writes spikes, the
charged membrane ``h`` (in the input dtype: the only T x N tensor saved for backward; not
written at all when nothing needs a backward) and ``v_last``; backward walks time in
reverse, recomputing spikes from ``h``.

Bit-exactness with the torch kernel comes from three choices: every float operation is
written in the same order as ``torch_kernel``; NVRTC compiles without FMA contraction and
without flush-to-zero (see :mod:`snn_zoo.neurons.nvrtc`); ``h`` is rounded to the storage
dtype and back before firing, as the torch path does.

The source is one template formatted per :class:`KernelVariant`; float constants (threshold,
reset, alpha, LIF's decay) are kernel arguments, so only ``len(list(all_variants()))``
programs can ever be compiled. These functions have no autograd: :mod:`snn_zoo.neurons.ops`
wraps them as the CUDA implementation of the ``snn_zoo::multistep_*`` custom ops.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Iterator
from importlib import resources
from typing import NamedTuple

import numpy as np
import torch

from . import nvrtc
from .kinds import NEURON_KIND_TABLE, get_neuron_kind
from .nvrtc import DEFAULT_PTX_ARCH, cuda_include_dirs  # noqa: F401  (re-exported for callers)
from .spec import NeuronSpec
from .surrogates import SURROGATES, get_surrogate

BLOCK_SIZE = 256
FORWARD_KERNEL = "snn_multistep_forward"
BACKWARD_KERNEL = "snn_multistep_backward"

_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPES = tuple(_TORCH_DTYPES)
_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}
SUPPORTED_DTYPES = tuple(_TORCH_DTYPES.values())

# (C type, to-float, from-float, header) per storage dtype.
_DTYPE_CODE = {
    "float32": ("float", "static_cast<float>", "static_cast<float>", None),
    "float16": ("__half", "__half2float", "__float2half_rn", "cuda_fp16.h"),
    "bfloat16": ("__nv_bfloat16", "__bfloat162float", "__float2bfloat16_rn", "cuda_bf16.h"),
}


class KernelVariant(NamedTuple):
    """Everything that changes the generated CUDA source (float constants are arguments)."""

    kind: str
    surrogate: str
    hard_reset: bool
    detach_reset: bool
    decay_input: bool
    dtype: str  # "float32" | "float16" | "bfloat16"

    @property
    def name(self) -> str:
        return (
            f"{self.kind}_{self.surrogate}_{'hard' if self.hard_reset else 'soft'}"
            f"{'_detach' if self.detach_reset else ''}{'_decayin' if self.decay_input else ''}_{self.dtype}"
        )


@functools.lru_cache(maxsize=1024)
def variant_for(spec: NeuronSpec, dtype: torch.dtype) -> KernelVariant:
    """The kernel variant that runs ``spec`` on tensors of ``dtype``."""
    if dtype not in _DTYPE_NAMES:
        raise TypeError(f"cupy neuron kernels support {list(DTYPES)}, got {dtype}.")
    kind = get_neuron_kind(spec.kind)
    # IF ignores decay_input: normalise it so IF has one variant, not two identical ones.
    decay_input = bool(spec.decay_input) if kind.leaky else True
    return KernelVariant(
        spec.kind,
        get_surrogate(spec.surrogate).name,
        spec.hard_reset,
        bool(spec.detach_reset),
        decay_input,
        _DTYPE_NAMES[dtype],
    )


def all_variants() -> Iterator[KernelVariant]:
    """Every distinct variant: kind x surrogate x hard/soft x detach x decay_input x dtype."""
    for kind in NEURON_KIND_TABLE.values():
        for surrogate in SURROGATES:
            for hard_reset in (True, False):
                for detach_reset in (False, True):
                    for decay_input in (True, False) if kind.leaky else (True,):
                        for dtype in DTYPES:
                            yield KernelVariant(kind.name, surrogate, hard_reset, detach_reset, decay_input, dtype)


@functools.lru_cache(maxsize=1)
def kernel_template() -> string.Template:
    """The CUDA template shipped as package data (``snn_zoo/neurons/csrc/multistep.cu``)."""
    text = resources.files(__package__).joinpath("csrc", "multistep.cu").read_text(encoding="utf-8")
    return string.Template(text)


def kernel_source(variant: KernelVariant, block_size: int = BLOCK_SIZE) -> str:
    """CUDA source of the forward and backward kernels of one variant."""
    variant = KernelVariant(*variant)
    if variant.dtype not in _DTYPE_CODE:
        raise ValueError(f"Unknown storage dtype {variant.dtype!r}; choose one of {list(DTYPES)}.")
    storage_type, to_float, from_float, header = _DTYPE_CODE[variant.dtype]
    return kernel_template().substitute(
        variant_name=variant.name,
        includes=f"#include <{header}>" if header else "",
        storage_type=storage_type,
        to_float=to_float,
        from_float=from_float,
        kind_id=get_neuron_kind(variant.kind).kernel_id,
        hard_reset=str(bool(variant.hard_reset)).lower(),
        detach_reset=str(bool(variant.detach_reset)).lower(),
        decay_input=str(bool(variant.decay_input)).lower(),
        block_size=int(block_size),
        surrogate_body=get_surrogate(variant.surrogate).cuda_grad,
    )


def compile_options(variant: KernelVariant, arch: str = DEFAULT_PTX_ARCH) -> tuple[str, ...]:
    """NVRTC options of one variant (half headers only for fp16/bf16 storage)."""
    return nvrtc.compile_options(arch, needs_half_headers=_DTYPE_CODE[variant.dtype][3] is not None)


def _compile(variant: KernelVariant, arch: str) -> bytes:
    variant = KernelVariant(*variant)
    return nvrtc.compile_source(kernel_source(variant), variant.name, compile_options(variant, arch))


@functools.cache
def compile_ptx(variant: KernelVariant, arch: str = DEFAULT_PTX_ARCH) -> str:
    """Compile one variant (forward + backward in one program) to PTX with NVRTC; needs no GPU or driver."""
    return _compile(variant, arch).decode().rstrip("\x00")


@functools.cache
def _kernels(variant: KernelVariant, device_index: int):
    """(forward, backward) cupy Functions of a variant, compiled and loaded once per device."""
    arch = nvrtc.device_arch(device_index)
    return nvrtc.load_functions(_compile(variant, arch), arch, device_index, (FORWARD_KERNEL, BACKWARD_KERNEL))


@functools.lru_cache(maxsize=1024)
def _scalars(spec: NeuronSpec) -> tuple[np.float32, ...]:
    """(k, 1 - k, v_threshold, v_reset, alpha) as fp32 kernel arguments; 1 - k is rounded from double like torch."""
    return tuple(np.float32(v) for v in (spec.k, 1.0 - spec.k, spec.v_threshold, spec.reset_value, spec.alpha))


def _ptr(t: torch.Tensor | None) -> np.uint64:
    # Raw pointers are dtype-agnostic (cupy has no bf16 dtype), passed as 8-byte values.
    return np.uint64(0 if t is None else t.data_ptr())


def launch_config(n: int) -> tuple[tuple[int], tuple[int]]:
    """(grid, block) of a launch over ``n`` neurons: one thread each, ``BLOCK_SIZE`` per block."""
    return ((n + BLOCK_SIZE - 1) // BLOCK_SIZE,), (BLOCK_SIZE,)


def _launch(fn, n: int, device: torch.device, args: tuple) -> None:
    import cupy

    grid, block = launch_config(n)
    with cupy.cuda.Device(device.index):
        # Torch's current stream keeps ordering with the surrounding torch ops (and autograd's).
        stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream)
        fn(grid, block, args, stream=stream)


def _decay32(spec: NeuronSpec, k: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    if not get_neuron_kind(spec.kind).learned_decay:
        return None
    if k is None or k.numel() != 1:
        raise ValueError("PLIF needs its decay k as a one-element tensor.")
    return k.detach().to(device=device, dtype=torch.float32).reshape(1).contiguous()


def forward(
    x_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec, save_h: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(spikes [T, ...], v_last [...] fp32, h [T, ...] or an empty tensor when ``save_h`` is False)."""
    variant = variant_for(spec, x_seq.dtype)
    x = x_seq.contiguous()
    steps, n = x.shape[0], math.prod(x.shape[1:])
    v0 = v_init.detach().to(torch.float32).expand(x.shape[1:]).contiguous()
    k32 = _decay32(spec, k, x.device)
    spikes = torch.empty_like(x)
    h_seq = torch.empty_like(x) if save_h else x.new_empty((0,))
    v_last = torch.empty(x.shape[1:], dtype=torch.float32, device=x.device)
    if steps == 0 or n == 0:
        v_last.copy_(v0)
    else:
        fwd, _ = _kernels(variant, x.device.index)
        k_val, _, v_th, v_reset, _ = _scalars(spec)
        _launch(
            fwd,
            n,
            x.device,
            (
                _ptr(x),
                _ptr(v0),
                _ptr(k32),
                _ptr(spikes),
                _ptr(h_seq if save_h else None),
                _ptr(v_last),
                k_val,
                v_th,
                v_reset,
                np.int64(steps),
                np.int64(n),
            ),
        )
    return spikes, v_last, h_seq


def backward(
    grad_s_seq: torch.Tensor, h_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """(grad_x [T, ...] in h's dtype, grad_k fp32 scalar) for the saved charged membrane ``h_seq``."""
    variant = variant_for(spec, h_seq.dtype)
    steps, n = h_seq.shape[0], math.prod(h_seq.shape[1:])
    h = h_seq.contiguous()
    # Incoming grads can be expanded (stride 0) or permuted views.
    grad_s = grad_s_seq.to(h.dtype).contiguous()
    k32 = _decay32(spec, k, h.device)
    v0 = v_init.detach().to(torch.float32).expand(h.shape[1:]).contiguous() if k32 is not None else None
    grad_x = torch.empty_like(h)
    grad_k = torch.zeros(1, dtype=torch.float32, device=h.device)
    if steps > 0 and n > 0:
        _, bwd = _kernels(variant, h.device.index)
        _launch(
            bwd,
            n,
            h.device,
            (
                _ptr(grad_s),
                _ptr(h),
                _ptr(v0),
                _ptr(k32),
                _ptr(grad_x),
                _ptr(grad_k if k32 is not None else None),
                *_scalars(spec),
                np.int64(steps),
                np.int64(n),
            ),
        )
    return grad_x, grad_k.reshape(())
