"""The fused CUDA kernels, run on the CPU: the exact NVRTC source compiled by g++ against a CUDA shim.

Every variant (kind x surrogate x reset x detach x decay_input x storage dtype) goes through
``cupy_kernel.forward`` / ``backward`` unchanged (argument packing, grid and block included), with
only the device load and launch swapped for the emulation (``cuda_emulation/emulator.py``), and is
held to the torch kernel:
* spikes, stored h and v_last equal (bit for bit; fp16/bf16 storage is rounded the same way);
* grad_x within 1e-6 of max |grad_x| in fp32; in fp16/bf16 within one storage epsilon, because both
  kernels compute grad_x in fp32 (differing by an ulp or two of expf/sigmoid) and one fp32 ulp can
  flip the rounding of the stored value by one storage ulp;
* PLIF's grad_k within 1e-6 of (|grad_k| + sum of the |terms| it adds), since the two kernels sum the
  same fp32 terms in different orders (torch per step over neurons, CUDA per thread then per block).
Shapes cover N < 32, N not a multiple of the block, several blocks (the PLIF cross-block reduction),
T = 1, large T, a non-zero v_init, and the forward without h (null h_out).

Planted bugs (a wrong surrogate sign, an off-by-one in the reverse loop, a block reduction over one
warp only) are compiled from scratch copies of the source and must be caught. To run the whole suite
on another copy of the template: ``SNN_ZOO_EMU_TEMPLATE=/path/multistep.cu pytest ...``.
"""

from __future__ import annotations

import ctypes
import os
import string
import zlib

import numpy as np
import pytest
import torch
from cuda_emulation import emulator

from snn_zoo.neurons import cupy_available, cupy_kernel, torch_kernel
from snn_zoo.neurons.spec import NeuronSpec
from snn_zoo.neurons.surrogates import SURROGATES

pytestmark = pytest.mark.skipif(not emulator.cxx_available(), reason="needs g++ (CXX) to compile the kernels")

VARIANTS = list(cupy_kernel.all_variants())
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# (N, T): N < 32; N not a multiple of the block, 2 blocks; 4 blocks with T = 1; large T.
SHAPES = [(5, 3), (300, 7), (1000, 1), (70, 96)]


@pytest.fixture(scope="session")
def kernels():
    template = os.environ.get("SNN_ZOO_EMU_TEMPLATE")
    if template:  # a scratch copy with a planted bug
        with open(template, encoding="utf-8") as f:
            text = f.read()
        original = cupy_kernel.kernel_template
        cupy_kernel.kernel_template = lambda: string.Template(text)
        try:
            return emulator.build(VARIANTS)
        finally:
            cupy_kernel.kernel_template = original
    return emulator.build(VARIANTS)


@pytest.fixture
def emulated(monkeypatch, kernels):
    emulator.install(monkeypatch, kernels)
    return kernels


def _spec(variant) -> NeuronSpec:
    return NeuronSpec(
        kind=variant.kind,
        v_threshold=0.9,
        v_reset=-0.1 if variant.hard_reset else None,
        surrogate=variant.surrogate,
        alpha=SURROGATES[variant.surrogate].default_alpha,
        detach_reset=variant.detach_reset,
        decay_input=variant.decay_input,
        k=1.0 / 3.0,  # not exact in fp32: (1 - k) must be rounded like torch does
    )


def _bit_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bit pattern (so -0.0 != 0.0, unlike torch.equal)."""
    ints = {4: torch.int32, 2: torch.int16}
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and torch.equal(a.view(ints[a.element_size()]), b.view(ints[b.element_size()]))
    )


def _norm_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (a relative error that stays meaningful where b crosses zero)."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def _grad_k_scale(spec, h, v0, k, grad_x) -> float:
    """sum |dL/dh * dh/dk| over (t, n): the size of the terms both kernels add up into grad_k."""
    h, k = h.double(), float(k)
    v_prev = torch.cat([v0.double().unsqueeze(0), torch_kernel.membrane_after_spike(spec, h[:-1])])
    grad_h = grad_x.double() / k if spec.decay_input else grad_x.double()
    dh_dk = (h - v_prev) / k if spec.decay_input else -(v_prev - spec.reset_value)
    return float((grad_h * dh_dk).abs().sum())


def check_variant(variant, shapes=SHAPES) -> None:
    """Assert the (emulated) CUDA kernels equal the torch kernel for ``variant`` on ``shapes``."""
    dtype = _DTYPES[variant.dtype]
    spec = _spec(variant)
    g = torch.Generator().manual_seed(zlib.crc32(variant.name.encode()))
    for n, steps in shapes:
        where = f"{variant.name} N={n} T={steps}"
        x = (torch.randn(steps, n, generator=g) * 1.5 + 0.6).to(dtype)
        v0 = torch.randn(n, generator=g) * 0.5
        grad_s = torch.randn(steps, n, generator=g).to(dtype)
        k = torch.tensor(0.3 + 0.1 * steps / 96) if variant.kind == "plif" else None

        s_ref, v_ref, h_ref = torch_kernel.forward(x, v0, k, spec, True)
        s_cu, v_cu, h_cu = cupy_kernel.forward(x, v0, k, spec, True)
        assert s_cu.dtype == dtype and v_cu.dtype == torch.float32, where
        assert _bit_equal(s_cu, s_ref), f"spikes differ: {where}"
        assert _bit_equal(h_cu, h_ref), f"stored h differs: {where}"
        assert _bit_equal(v_cu, v_ref), f"v_last differs: {where}"

        s_noh, v_noh, h_noh = cupy_kernel.forward(x, v0, k, spec, False)  # h_out = nullptr
        assert h_noh.numel() == 0 and _bit_equal(s_noh, s_ref) and _bit_equal(v_noh, v_ref), f"no h: {where}"

        gx_ref, gk_ref = torch_kernel.backward(grad_s, h_ref, v0, k, spec)
        gx_cu, gk_cu = cupy_kernel.backward(grad_s, h_cu, v0, k, spec)
        assert gx_cu.dtype == dtype, where
        tol = 1e-6 if dtype == torch.float32 else torch.finfo(dtype).eps
        err = _norm_err(gx_cu, gx_ref)
        assert err <= tol, f"grad_x differs by {err:.3g} (max-normalised, tolerance {tol:.3g}): {where}"
        if k is not None:
            scale = _grad_k_scale(spec, h_ref, v0, k, gx_ref)
            diff = abs(gk_cu.item() - gk_ref.item())
            assert diff <= 1e-6 * (abs(gk_ref.item()) + scale), (
                f"grad_k differs: {gk_cu.item()} vs torch {gk_ref.item()} (term scale {scale:.4g}): {where}"
            )


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_emulated_cuda_matches_torch(emulated, variant):
    check_variant(variant)


# --------------------------------------------------------------------------- the shim itself


def test_half_conversions_round_to_nearest_even_like_torch(kernels):
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(-(2**31), 2**31 - 1, (200_000,), generator=g, dtype=torch.int64).to(torch.int32)
    specials = [0.0, -0.0, 1.0, 65504.0, 65519.99, 65520.0, 1e-8, 2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-14]
    edge = torch.tensor(specials + [-v for v in specials] + [float("inf"), -float("inf")], dtype=torch.float32)
    # Random bit patterns cover every exponent; halfway cases are rare there, so add them explicitly.
    steps = torch.arange(1, 2**15, 7, dtype=torch.int32)
    halfway = torch.cat([steps << 13 | 1 << 12, steps << 16 | 1 << 15]).view(torch.float32)  # fp16's, bf16's
    x = torch.cat([bits.view(torch.float32), edge, halfway, -halfway])
    x = x[~torch.isnan(x)].contiguous()
    lib = ctypes.CDLL(str(kernels.path))
    n = x.numel()
    half_bits, bf16_bits = np.empty(n, np.uint16), np.empty(n, np.uint16)
    half_back, bf16_back = np.empty(n, np.float32), np.empty(n, np.float32)
    ptr = ctypes.c_void_p
    lib.emu_convert(
        ptr(x.data_ptr()),
        ctypes.c_longlong(n),
        *(ptr(a.ctypes.data) for a in (half_bits, half_back, bf16_bits, bf16_back)),
    )
    ref_half, ref_bf16 = x.to(torch.float16), x.to(torch.bfloat16)
    assert np.array_equal(half_bits, ref_half.view(torch.int16).numpy().view(np.uint16))
    assert np.array_equal(bf16_bits, ref_bf16.view(torch.int16).numpy().view(np.uint16))
    assert np.array_equal(half_back, ref_half.float().numpy())
    assert np.array_equal(bf16_back, ref_bf16.float().numpy())


# --------------------------------------------------------------------------- argument packing


@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
def test_launch_arguments_match_the_kernel_signature(kernels, monkeypatch, kind):
    """cupy_kernel packs (order, count, C type, pointer vs value) what the compiled signature declares."""
    variant = cupy_kernel.KernelVariant(kind, "sigmoid", True, False, True, "float32")
    fwd, bwd = kernels.functions(variant)
    # Derived by g++ from the source: 6 pointers, k/threshold/reset as float, T and N as long long.
    assert fwd.signature == "PPPPPPfffqq"
    assert bwd.signature == "PPPPPPfffffqq"
    seen = []
    monkeypatch.setattr(cupy_kernel, "_kernels", lambda v, d: kernels.functions(v))
    monkeypatch.setattr(cupy_kernel, "_launch", lambda fn, n, dev, args: seen.append((fn, args)) or fn.check_args(args))
    spec = _spec(variant)
    x = torch.randn(2, 40)
    k = torch.tensor(0.4) if kind == "plif" else None
    cupy_kernel.forward(x, torch.zeros(40), k, spec, True)
    cupy_kernel.backward(x, x, torch.zeros(40), k, spec)
    assert [fn for fn, _ in seen] == [fwd, bwd]
    # A marshalling mistake fails: T as a 32-bit int, a float constant as double, a pointer as a value.
    fwd_args = list(seen[0][1])
    for i, wrong in [(9, np.int32(2)), (7, np.float64(0.9)), (0, np.float32(0.0)), (10, np.uint64(40))]:
        bad = fwd_args.copy()
        bad[i] = wrong
        with pytest.raises(TypeError, match=f"argument {i} is passed as"):
            fwd.check_args(bad)
    with pytest.raises(TypeError, match="takes 11 arguments, launch passes 10"):
        fwd.check_args(fwd_args[:-1])


def test_grid_covers_every_neuron_once():
    for n in (1, 31, 255, 256, 257, 1000):
        (grid,), (block,) = cupy_kernel.launch_config(n)
        assert block == cupy_kernel.BLOCK_SIZE and (grid - 1) * block < n <= grid * block


# --------------------------------------------------------------------------- planted bugs


def _planted(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


PLANTED = {
    "surrogate_sign": ("to_float(grad_s[idx]) * sg", "to_float(grad_s[idx]) * -sg"),
    "reverse_loop_off_by_one": ("t = T - 1; t >= 0; --t", "t = T - 1; t > 0; --t"),
    "reduction_over_one_warp": ("lane < BLOCK / 32 ? warp_sums[lane]", "lane < 1 ? warp_sums[lane]"),
    "early_return_before_reduction": ("if (i < N && T > 0) {", "if (i >= N) return;\n    if (T > 0) {"),
}


@pytest.fixture(scope="module")
def planted_kernels():
    """One library with one PLIF variant per planted bug, each built from a scratch copy of the template."""
    variant = cupy_kernel.KernelVariant("plif", "sigmoid", True, False, True, "float32")
    original, sources = cupy_kernel.kernel_template, []
    try:
        for old, new in PLANTED.values():
            text = _planted(original().template, old, new)
            cupy_kernel.kernel_template = lambda text=text: string.Template(text)
            sources.append(cupy_kernel.kernel_source(variant))
    finally:
        cupy_kernel.kernel_template = original
    return variant, emulator.build([variant] * len(sources), sources=sources)


@pytest.mark.parametrize("bug", list(PLANTED))
def test_planted_bug_is_caught(monkeypatch, planted_kernels, bug):
    variant, kernels = planted_kernels
    fns = kernels.functions_at(list(PLANTED).index(bug))
    monkeypatch.setattr(cupy_kernel, "_kernels", lambda v, d: fns)
    monkeypatch.setattr(cupy_kernel, "_launch", lambda fn, n, dev, args: fn(*cupy_kernel.launch_config(n), args))
    with pytest.raises((AssertionError, RuntimeError)) as caught:
        check_variant(variant, shapes=[(1000, 5)])
    print(f"planted {bug}: caught: {str(caught.value).splitlines()[0]}")


def test_shapes_cover_the_edges():
    grids = [cupy_kernel.launch_config(n)[0][0] for n, _ in SHAPES]
    assert max(grids) >= 4 and any(n % cupy_kernel.BLOCK_SIZE for n, _ in SHAPES) and min(n for n, _ in SHAPES) < 32
    assert min(t for _, t in SHAPES) == 1 and max(t for _, t in SHAPES) >= 64


# --------------------------------------------------------------------------- emulation vs a real GPU


@pytest.mark.skipif(
    not torch.cuda.is_available() or not cupy_available(), reason="needs a CUDA GPU and cupy (hub_scripts/gpu_check.sh)"
)
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_emulation_matches_the_device(kernels, monkeypatch, variant):
    """The same source on the GPU and in the emulation: same spikes, h and v_last; gradients to rounding
    (the device's expf and the order of its atomicAdds differ from the CPU's)."""
    dtype, spec = _DTYPES[variant.dtype], _spec(variant)
    g = torch.Generator().manual_seed(zlib.crc32(variant.name.encode()))
    n, steps = 1000, 9
    x = (torch.randn(steps, n, generator=g) * 1.5 + 0.6).to(dtype)
    v0 = torch.randn(n, generator=g) * 0.5
    grad_s = torch.randn(steps, n, generator=g).to(dtype)
    k = torch.tensor(0.35) if variant.kind == "plif" else None
    cuda = [t.cuda() if t is not None else None for t in (x, v0, grad_s, k)]
    s_dev, v_dev, h_dev = cupy_kernel.forward(cuda[0], cuda[1], cuda[3], spec, True)
    gx_dev, gk_dev = cupy_kernel.backward(cuda[2], h_dev, cuda[1], cuda[3], spec)
    emulator.install(monkeypatch, kernels)
    s_emu, v_emu, h_emu = cupy_kernel.forward(x, v0, k, spec, True)
    gx_emu, gk_emu = cupy_kernel.backward(grad_s, h_emu, v0, k, spec)
    assert _bit_equal(s_dev.cpu(), s_emu) and _bit_equal(h_dev.cpu(), h_emu) and _bit_equal(v_dev.cpu(), v_emu)
    tol = 1e-6 if dtype == torch.float32 else torch.finfo(dtype).eps
    assert _norm_err(gx_dev.cpu(), gx_emu) <= tol
    if k is not None:
        scale = _grad_k_scale(spec, h_emu, v0, k, gx_emu)
        assert abs(gk_dev.item() - gk_emu.item()) <= 1e-6 * (abs(gk_emu.item()) + scale)
