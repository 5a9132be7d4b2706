"""Fused multi-step IF/LIF/PLIF neurons as raw CUDA kernels compiled with NVRTC and run through cupy.

Same semantics as :mod:`snn_zoo.neurons.torch_kernel`, but each direction is ONE kernel
launch over all T steps: one thread per neuron walks time on the ``[T, N]`` view of the
input (N = numel of one step), with ``v`` in fp32 registers. Forward writes spikes, the
charged membrane ``h`` (in the input dtype: the only T x N tensor saved for backward) and
``v_last``; backward walks time in reverse, recomputing spikes from ``h``.

Bit-exactness with the torch kernel comes from three choices:

* every float operation is written in the same order as ``torch_kernel``, and the kernels
  are compiled with ``--fmad=false`` so NVRTC cannot fuse a multiply and an add into an FMA
  (each torch op rounds on its own);
* ``h`` is rounded to the storage dtype and back before firing, as the torch path does;
* compilation goes through ``cupy.cuda.nvrtc`` directly, not ``cupy.RawModule``: cupy
  appends ``-ftz=true`` after the user's options (last one wins in NVRTC), which would
  flush denormals and switch ``expf`` to its FTZ variant, unlike PyTorch's kernels.

Kernel sources come from one template (:data:`KERNEL_TEMPLATE`) formatted per
:class:`KernelVariant`; float constants (threshold, reset, alpha, LIF's decay) are kernel
arguments, so only ``len(list(all_variants()))`` programs can ever be compiled.
"""
from __future__ import annotations

import functools
import glob
import importlib.util
import math
import os
import string
from typing import Iterator, NamedTuple, Optional

import numpy as np
import torch

from .spec import NEURON_KINDS, NeuronSpec
from .surrogates import SURROGATES, get_surrogate

BLOCK_SIZE = 256
FORWARD_KERNEL = "snn_multistep_forward"
BACKWARD_KERNEL = "snn_multistep_backward"
DEFAULT_PTX_ARCH = "compute_90"

_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPES = tuple(_TORCH_DTYPES)
_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}

# (C type, to-float, from-float, header) per storage dtype.
_DTYPE_CODE = {
    "float32": ("float", "static_cast<float>", "static_cast<float>", None),
    "float16": ("__half", "__half2float", "__float2half_rn", "cuda_fp16.h"),
    "bfloat16": ("__nv_bfloat16", "__bfloat162float", "__float2bfloat16_rn", "cuda_bf16.h"),
}
_KIND_IDS = {"if": 0, "lif": 1, "plif": 2}


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
    if spec.kind not in _KIND_IDS:
        raise ValueError(f"Unknown neuron kind {spec.kind!r}; choose one of {list(NEURON_KINDS)}.")
    # IF ignores decay_input: normalise it so IF has one variant, not two identical ones.
    decay_input = True if spec.kind == "if" else bool(spec.decay_input)
    return KernelVariant(
        spec.kind, get_surrogate(spec.surrogate).name, spec.hard_reset, bool(spec.detach_reset),
        decay_input, _DTYPE_NAMES[dtype],
    )


def all_variants() -> Iterator[KernelVariant]:
    """Every distinct variant: kind x surrogate x hard/soft x detach x decay_input x dtype."""
    for kind in NEURON_KINDS:
        for surrogate in SURROGATES:
            for hard_reset in (True, False):
                for detach_reset in (False, True):
                    for decay_input in ((True,) if kind == "if" else (True, False)):
                        for dtype in DTYPES:
                            yield KernelVariant(kind, surrogate, hard_reset, detach_reset, decay_input, dtype)


KERNEL_TEMPLATE = string.Template(r"""// snn_zoo fused multi-step neuron: $variant_name
$includes
typedef $storage_type storage_t;

constexpr int KIND = $kind_id;  // 0 IF, 1 LIF, 2 PLIF
constexpr bool HARD_RESET = $hard_reset;
constexpr bool DETACH_RESET = $detach_reset;
constexpr bool DECAY_INPUT = $decay_input;
constexpr int BLOCK = $block_size;
static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "block must be whole warps");

static __forceinline__ float to_float(const storage_t v) { return $to_float(v); }
static __forceinline__ storage_t from_float(const float v) { return $from_float(v); }

// Surrogate derivative, x = h - v_threshold (body from snn_zoo.neurons.surrogates).
static __forceinline__ float surrogate_grad(const float x, const float alpha) {
    $surrogate_body
}

// Membrane after firing; the same values as torch_kernel.membrane_after_spike (s is 0 or 1).
static __forceinline__ float fire_reset(const float h, const float s, const float v_th, const float v_reset) {
    if constexpr (HARD_RESET) {
        return h * (1.0f - s) + v_reset * s;
    } else {
        return h - s * v_th;
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK) snn_multistep_forward(
    const storage_t* __restrict__ x, const float* __restrict__ v_init, const float* __restrict__ k_ptr,
    storage_t* __restrict__ s_out, storage_t* __restrict__ h_out, float* __restrict__ v_last,
    const float k_val, const float v_th, const float v_reset, const long long T, const long long N)
{
    const long long i = static_cast<long long>(blockIdx.x) * BLOCK + threadIdx.x;
    if (i >= N) return;
    float k = k_val;
    if constexpr (KIND == 2) k = *k_ptr;
    float v = v_init[i];
    long long idx = i;
    // Unrolled so the independent loads of x for later steps are issued early.
    #pragma unroll 4
    for (long long t = 0; t < T; ++t, idx += N) {
        const float xt = to_float(x[idx]);
        float h;
        if constexpr (KIND == 0) {
            h = v + xt;
        } else if constexpr (DECAY_INPUT) {
            h = v + k * (xt - (v - v_reset));
        } else {
            h = v - k * (v - v_reset) + xt;
        }
        // Round h to the storage dtype before firing, exactly like the torch kernel.
        const storage_t hq = from_float(h);
        h_out[idx] = hq;
        h = to_float(hq);
        const float s = h >= v_th ? 1.0f : 0.0f;
        s_out[idx] = from_float(s);
        v = fire_reset(h, s, v_th, v_reset);
    }
    v_last[i] = v;
}

extern "C" __global__ void __launch_bounds__(BLOCK) snn_multistep_backward(
    const storage_t* __restrict__ grad_s, const storage_t* __restrict__ h_seq,
    const float* __restrict__ v_init, const float* __restrict__ k_ptr,
    storage_t* __restrict__ grad_x, float* __restrict__ grad_k,
    const float k_val, const float one_minus_k, const float v_th, const float v_reset, const float alpha,
    const long long T, const long long N)
{
    const long long i = static_cast<long long>(blockIdx.x) * BLOCK + threadIdx.x;
    float k = k_val;
    float omk = one_minus_k;  // LIF: (1 - k) rounded once from double, as torch does with a Python float
    if constexpr (KIND == 2) {
        k = *k_ptr;
        omk = 1.0f - k;
    }
    float gk = 0.0f;  // this thread's share of dL/dk (PLIF)
    // No early return: every thread of the block must reach the PLIF reduction below.
    if (i < N && T > 0) {
        float grad_v = 0.0f;
        long long idx = (T - 1) * N + i;
        float h_next = to_float(h_seq[idx]);
        #pragma unroll 4
        for (long long t = T - 1; t >= 0; --t, idx -= N) {
            const float h = h_next;
            // h_{t-1}: next iteration's h, and PLIF's v_{t-1}; each h is read once.
            if (t > 0) h_next = to_float(h_seq[idx - N]);
            const float sg = surrogate_grad(h - v_th, alpha);
            const float s = h >= v_th ? 1.0f : 0.0f;
            float dv_dh;
            if constexpr (HARD_RESET) {
                if constexpr (DETACH_RESET) dv_dh = 1.0f - s;
                else dv_dh = 1.0f - s + (v_reset - h) * sg;
            } else {
                if constexpr (DETACH_RESET) dv_dh = 1.0f;
                else dv_dh = 1.0f - v_th * sg;
            }
            const float grad_h = to_float(grad_s[idx]) * sg + grad_v * dv_dh;
            if constexpr (KIND == 0) {
                grad_x[idx] = from_float(grad_h);
                grad_v = grad_h;
            } else {
                if constexpr (DECAY_INPUT) grad_x[idx] = from_float(grad_h * k);
                else grad_x[idx] = from_float(grad_h);
                grad_v = grad_h * omk;
                if constexpr (KIND == 2) {
                    const float v_prev = t > 0
                        ? fire_reset(h_next, h_next >= v_th ? 1.0f : 0.0f, v_th, v_reset)
                        : v_init[i];
                    float dh_dk;
                    if constexpr (DECAY_INPUT) dh_dk = (h - v_prev) / k;
                    else dh_dk = -(v_prev - v_reset);
                    gk += grad_h * dh_dk;
                }
            }
        }
    }
    if constexpr (KIND == 2) {
        // Block sum: warp shuffles, one shared slot per warp, one atomicAdd per block.
        __shared__ float warp_sums[BLOCK / 32];
        #pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) gk += __shfl_down_sync(0xffffffffu, gk, offset);
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
        if (lane == 0) warp_sums[warp] = gk;
        __syncthreads();
        if (warp == 0) {
            gk = lane < BLOCK / 32 ? warp_sums[lane] : 0.0f;
            #pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) gk += __shfl_down_sync(0xffffffffu, gk, offset);
            if (lane == 0) atomicAdd(grad_k, gk);
        }
    }
}
""")


def kernel_source(variant: KernelVariant, block_size: int = BLOCK_SIZE) -> str:
    """CUDA source of the forward and backward kernels of one variant."""
    variant = KernelVariant(*variant)
    if variant.dtype not in _DTYPE_CODE:
        raise ValueError(f"Unknown storage dtype {variant.dtype!r}; choose one of {list(DTYPES)}.")
    storage_type, to_float, from_float, header = _DTYPE_CODE[variant.dtype]
    return KERNEL_TEMPLATE.substitute(
        variant_name=variant.name,
        includes=f"#include <{header}>" if header else "",
        storage_type=storage_type,
        to_float=to_float,
        from_float=from_float,
        kind_id=_KIND_IDS[variant.kind],
        hard_reset=str(bool(variant.hard_reset)).lower(),
        detach_reset=str(bool(variant.detach_reset)).lower(),
        decay_input=str(bool(variant.decay_input)).lower(),
        block_size=int(block_size),
        surrogate_body=get_surrogate(variant.surrogate).cuda_grad,
    )


@functools.lru_cache(maxsize=None)
def cuda_include_dirs() -> tuple[str, ...]:
    """Directory holding ``cuda_fp16.h``/``cuda_bf16.h`` for NVRTC (empty tuple if none is found).

    NVRTC has no default include path, so the half/bf16 headers must be passed with ``-I``.
    Only the first directory that has both headers is returned, so headers of two CUDA
    versions never mix. Search order:
    1. ``$SNN_ZOO_CUDA_INCLUDE`` (explicit override, ``os.pathsep``-separated);
    2. cupy's CUDA root (derived from the libnvrtc it loaded, so headers match the compiler:
       pip ``nvidia/cu13``, conda, or a system toolkit);
    3. pip wheels under every ``nvidia`` namespace path: CUDA 13 has ``nvidia/cu13/include``,
       CUDA 12 splits per component (``nvidia/cuda_runtime/include``);
    4. ``$CUDA_PATH``, ``$CUDA_HOME``, ``/usr/local/cuda``.
    """
    candidates: list[str] = []
    override = os.environ.get("SNN_ZOO_CUDA_INCLUDE")
    if override:
        candidates += [p for p in override.split(os.pathsep) if p]
    try:
        from cupy.cuda import get_cuda_path

        root = get_cuda_path()
        if root:
            candidates.append(os.path.join(root, "include"))
    except Exception:  # cupy missing or broken: fall through to the other places
        pass
    spec = importlib.util.find_spec("nvidia")
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            candidates += sorted(glob.glob(os.path.join(base, "cu[0-9]*", "include")), reverse=True)
            candidates += sorted(glob.glob(os.path.join(base, "*", "include")))
    for var in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(var):
            candidates.append(os.path.join(os.environ[var], "include"))
    candidates.append("/usr/local/cuda/include")
    for path in candidates:
        if all(os.path.isfile(os.path.join(path, h)) for h in ("cuda_fp16.h", "cuda_bf16.h")):
            return (os.path.abspath(path),)
    return ()


def compile_options(variant: KernelVariant, arch: str = DEFAULT_PTX_ARCH) -> tuple[str, ...]:
    """NVRTC options: C++17, no FMA contraction, no flush-to-zero (torch matches), -I for half headers."""
    options = ["--std=c++17", "--fmad=false", "-ftz=false", "-default-device", f"--gpu-architecture={arch}"]
    if _DTYPE_CODE[variant.dtype][3] is not None:
        include_dirs = cuda_include_dirs()
        if not include_dirs:
            raise RuntimeError(
                "NVRTC needs cuda_fp16.h/cuda_bf16.h for fp16/bf16 neuron kernels and none was found; "
                "install the CUDA headers (`pip install \"snn_zoo[cuda]\"` pulls them in with cupy's "
                "nvidia wheels) or point SNN_ZOO_CUDA_INCLUDE at a CUDA include directory."
            )
        options += [f"-I{path}" for path in include_dirs]
    return tuple(options)


def _nvrtc_compile(variant: KernelVariant, arch: str) -> bytes:
    """PTX (``compute_XX``) or CUBIN (``sm_XX``) of one variant, forward + backward in one program."""
    from cupy.cuda import nvrtc

    variant = KernelVariant(*variant)
    prog = nvrtc.createProgram(kernel_source(variant), f"{variant.name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, list(compile_options(variant, arch)))
        except nvrtc.NVRTCError as error:
            log = nvrtc.getProgramLog(prog)
            raise RuntimeError(f"NVRTC failed to compile {variant.name} for {arch}:\n{log}") from error
        binary = nvrtc.getCUBIN(prog) if arch.startswith("sm_") else nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return binary if isinstance(binary, bytes) else binary.encode()


@functools.lru_cache(maxsize=None)
def compile_ptx(variant: KernelVariant, arch: str = DEFAULT_PTX_ARCH) -> str:
    """Compile one variant (forward + backward in one program) to PTX with NVRTC; needs no GPU or driver."""
    return _nvrtc_compile(variant, arch).decode().rstrip("\x00")


def _device_arch(device_index: int) -> str:
    """``sm_XX`` when NVRTC can build a CUBIN for this GPU, else the newest ``compute_XX`` below it.

    A CUBIN avoids the driver's PTX JIT, which fails when NVRTC is newer than the driver
    (CUDA minor-version compatibility covers CUBINs, not PTX), like cupy's own choice.
    """
    import cupy
    from cupy.cuda import nvrtc

    capability = int(cupy.cuda.Device(device_index).compute_capability)
    supported = [a for a in nvrtc.getSupportedArchs() if a <= capability]
    if not supported:
        raise RuntimeError(f"NVRTC {nvrtc.getVersion()} cannot target compute capability {capability}.")
    return f"sm_{capability}" if capability in supported else f"compute_{max(supported)}"


@functools.lru_cache(maxsize=None)
def _kernels(variant: KernelVariant, device_index: int):
    """(forward, backward) cupy Functions of a variant, compiled and loaded once per device."""
    import cupy
    from cupy.cuda import function

    arch = _device_arch(device_index)
    binary = _nvrtc_compile(variant, arch)
    if not arch.startswith("sm_"):
        binary = binary.rstrip(b"\x00") + b"\x00"  # cuModuleLoadData takes NUL-terminated PTX
    with cupy.cuda.Device(device_index):
        module = function.Module()
        module.load(binary)
        return module.get_function(FORWARD_KERNEL), module.get_function(BACKWARD_KERNEL)


@functools.lru_cache(maxsize=1024)
def _scalars(spec: NeuronSpec) -> tuple[np.float32, ...]:
    """(k, 1 - k, v_threshold, v_reset, alpha) as fp32 kernel arguments; 1 - k is rounded from double like torch."""
    return tuple(np.float32(v) for v in (spec.k, 1.0 - spec.k, spec.v_threshold, spec.reset_value, spec.alpha))


def _ptr(t: Optional[torch.Tensor]) -> np.uint64:
    # Raw pointers are dtype-agnostic (cupy has no bf16 dtype), passed as 8-byte values.
    return np.uint64(0 if t is None else t.data_ptr())


def _launch(fn, n: int, device: torch.device, args: tuple) -> None:
    import cupy

    grid = ((n + BLOCK_SIZE - 1) // BLOCK_SIZE,)
    with cupy.cuda.Device(device.index):
        # Torch's current stream keeps ordering with the surrounding torch ops (and autograd's).
        stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream)
        fn(grid, (BLOCK_SIZE,), args, stream=stream)


class CupyMultiStepFunction(torch.autograd.Function):
    """(x_seq [T, ...], v_init [...], k, spec) -> (spikes [T, ...], v_last [...] fp32), fused."""

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
        variant = variant_for(spec, x_seq.dtype)
        x = x_seq.contiguous()
        steps = x.shape[0]
        n = math.prod(x.shape[1:])
        v0 = v_init.detach().to(torch.float32)
        if v0.shape != x.shape[1:]:
            v0 = v0.expand(x.shape[1:])
        v0 = v0.contiguous()
        plif = spec.kind == "plif"
        k32 = None
        if plif:
            if k is None or k.numel() != 1:
                raise ValueError("PLIF needs its decay k as a one-element tensor.")
            k32 = k.detach().to(device=x.device, dtype=torch.float32).reshape(1).contiguous()
        spikes = torch.empty_like(x)
        h_seq = torch.empty_like(x)
        v_last = torch.empty(x.shape[1:], dtype=torch.float32, device=x.device)
        if steps == 0 or n == 0:
            v_last.copy_(v0)
        else:
            fwd, _ = _kernels(variant, x.device.index)
            k_val, _, v_th, v_reset, _ = _scalars(spec)
            _launch(fwd, n, x.device, (
                _ptr(x), _ptr(v0), _ptr(k32), _ptr(spikes), _ptr(h_seq), _ptr(v_last),
                k_val, v_th, v_reset, np.int64(steps), np.int64(n),
            ))
        ctx.spec = spec
        ctx.variant = variant
        ctx.k_meta = (k.shape, k.dtype) if k is not None else None
        # h is the only T x N tensor kept; PLIF also needs v_init (one step) and k.
        ctx.save_for_backward(h_seq, v0 if plif else None, k32)
        ctx.mark_non_differentiable(v_last)
        return spikes, v_last

    @staticmethod
    def backward(ctx, grad_s_seq: torch.Tensor, grad_v_last: Optional[torch.Tensor]):
        h_seq, v0, k32 = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        steps = h_seq.shape[0]
        n = math.prod(h_seq.shape[1:])
        # Incoming grads can be expanded (stride 0) or permuted views.
        grad_s = grad_s_seq.to(h_seq.dtype).contiguous()
        grad_x = torch.empty_like(h_seq)
        grad_k = torch.zeros(1, dtype=torch.float32, device=h_seq.device) if k32 is not None else None
        if steps > 0 and n > 0:
            _, bwd = _kernels(ctx.variant, h_seq.device.index)
            _launch(bwd, n, h_seq.device, (
                _ptr(grad_s), _ptr(h_seq), _ptr(v0), _ptr(k32), _ptr(grad_x), _ptr(grad_k),
                *_scalars(spec), np.int64(steps), np.int64(n),
            ))
        grad_k_out = None
        if ctx.k_meta is not None and grad_k is not None:
            shape, dtype = ctx.k_meta
            grad_k_out = grad_k.reshape(shape).to(dtype)
        return grad_x, None, grad_k_out, None


def multistep_cupy(x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
    """Run the neuron over all T steps with the fused cupy kernels.

    Same contract as :func:`snn_zoo.neurons.torch_kernel.multistep_torch`: returns
    ``(spikes [T, ...] in x_seq.dtype, v_last [...] fp32)``. Other float dtypes (fp64) fall
    back to the torch kernel, since the fused kernels only store fp32/fp16/bf16.
    """
    if not x_seq.is_cuda:
        raise RuntimeError(
            "The cupy neuron kernel needs a CUDA tensor; install the extra with "
            "`pip install \"snn_zoo[cuda]\"` and move the model to a GPU, or use backend='torch'."
        )
    if x_seq.dtype not in _DTYPE_NAMES:
        from .torch_kernel import multistep_torch

        return multistep_torch(x_seq, v_init, k, spec)
    return CupyMultiStepFunction.apply(x_seq, v_init, k, spec)
