"""The fused cupy neuron kernels.

* Every kernel variant compiles to PTX through NVRTC (no GPU or driver needed).
* On a CUDA machine: spikes, v_last and gradients match the torch kernel.
* On CPU: backend 'auto' falls back to torch and backend 'cupy' fails clearly.
"""

from __future__ import annotations

import math
import time
import zlib

import pytest
import torch

from snn_zoo.neurons import IFNode, LIFNode, PLIFNode, cupy_available
from snn_zoo.neurons.ops import multistep_cupy, multistep_torch
from snn_zoo.neurons.spec import NeuronSpec
from snn_zoo.neurons.surrogates import SURROGATES
from snn_zoo.neurons.torch_kernel import membrane_after_spike

try:  # the module itself needs no GPU; nvrtc only needs cupy importable
    import cupy  # noqa: F401

    from snn_zoo.neurons import cupy_kernel

    _CUPY_IMPORT_ERROR = None
except Exception as error:  # pragma: no cover - depends on the environment
    cupy_kernel = None
    _CUPY_IMPORT_ERROR = repr(error)

needs_cupy = pytest.mark.skipif(
    cupy_kernel is None, reason=f"cupy is not importable ({_CUPY_IMPORT_ERROR}); install snn_zoo[cuda]"
)
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available() or not cupy_available(),
    reason="needs a CUDA GPU and a working cupy (snn_zoo[cuda])",
)

_VARIANTS = list(cupy_kernel.all_variants()) if cupy_kernel is not None else []
_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# --------------------------------------------------------------------------- (a) NVRTC on CPU


@needs_cupy
def test_variant_enumeration_is_complete_and_unique():
    # IF ignores decay_input: 4 surrogates x 2 resets x 2 detach x 3 dtypes; LIF/PLIF twice that.
    per_if = len(SURROGATES) * 2 * 2 * 3
    assert len(_VARIANTS) == per_if + 2 * (2 * per_if)
    assert len(set(_VARIANTS)) == len(_VARIANTS)
    assert len({v.name for v in _VARIANTS}) == len(_VARIANTS)


@needs_cupy
def test_float_constants_are_arguments_not_source():
    lif = NeuronSpec(kind="lif", v_threshold=0.75, v_reset=-0.125, alpha=3.5, k=1.0 / 3.0)
    other = NeuronSpec(kind="lif", v_threshold=1.5, v_reset=0.25, alpha=4.0, k=0.5)
    a = cupy_kernel.variant_for(lif, torch.float16)
    b = cupy_kernel.variant_for(other, torch.float16)
    assert a == b  # same variant, so the same compiled program
    src = cupy_kernel.kernel_source(a)
    assert "0.75" not in src and "0.125" not in src
    assert SURROGATES["sigmoid"].cuda_grad in src
    # IF normalises decay_input so it has one variant per setting, not two.
    assert cupy_kernel.variant_for(NeuronSpec(kind="if", decay_input=False), torch.float32).decay_input


@needs_cupy
@pytest.mark.parametrize("variant", _VARIANTS, ids=lambda v: v.name)
def test_every_variant_compiles_to_ptx(variant):
    t0 = time.perf_counter()
    ptx = cupy_kernel.compile_ptx(variant)
    assert ptx and ".version" in ptx
    assert f".entry {cupy_kernel.FORWARD_KERNEL}(" in ptx
    assert f".entry {cupy_kernel.BACKWARD_KERNEL}(" in ptx
    # --fmad=false: the neuron arithmetic itself never fuses into an FMA (torch rounds each op).
    # Surrogates with expf keep libdevice's explicit FMAs, so only check the others.
    if variant.surrogate in ("rect", "triangle"):
        assert "fma.rn.f32" not in ptx
    assert ".ftz." not in ptx.replace("ex2.approx.ftz", "")
    if variant.kind == "plif":
        assert "atom.global.add.f32" in ptx or "red.global.add.f32" in ptx
        assert "shfl.sync.down" in ptx
    assert time.perf_counter() - t0 < 10.0


@needs_cupy
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
def test_cubin_for_sm90_assembles_without_spills(kind, dtype):
    # A CUBIN runs ptxas too (what the runtime loads on a GPU NVRTC supports); one variant per kind/dtype.
    from cupy.cuda import nvrtc

    variant = cupy_kernel.KernelVariant(kind, "sigmoid", True, False, True, dtype)
    prog = nvrtc.createProgram(cupy_kernel.kernel_source(variant), "k.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [*cupy_kernel.compile_options(variant, "sm_90"), "--ptxas-options=-v"])
        log = nvrtc.getProgramLog(prog)
        cubin = nvrtc.getCUBIN(prog)
    finally:
        nvrtc.destroyProgram(prog)
    assert cubin[:4] == b"\x7fELF"
    assert log.count("0 bytes spill stores, 0 bytes spill loads") == 2, log


@needs_cupy
def test_half_headers_are_found():
    dirs = cupy_kernel.cuda_include_dirs()
    assert dirs, "cuda_fp16.h/cuda_bf16.h not found; fp16/bf16 kernels cannot compile"
    opts = cupy_kernel.compile_options(cupy_kernel.KernelVariant("lif", "sigmoid", True, False, True, "bfloat16"))
    assert any(o.startswith("-I") for o in opts)
    assert "--fmad=false" in opts and "-ftz=false" in opts


# --------------------------------------------------------------------------- (c) backends on CPU


def test_auto_backend_on_cpu_falls_back_to_torch():
    x = torch.randn(4, 2, 8) + 0.5
    auto, ref = LIFNode(backend="auto"), LIFNode(backend="torch")
    assert torch.equal(auto(x), ref(x))
    assert torch.equal(auto.v, ref.v)


@pytest.mark.parametrize("node_cls", [IFNode, LIFNode, PLIFNode])
def test_explicit_cupy_backend_on_cpu_raises(node_cls):
    node = node_cls(backend="cupy")
    with pytest.raises(RuntimeError, match=r"snn_zoo\[cuda\]"):
        node(torch.randn(3, 2, 4))


# --------------------------------------------------------------------------- (b) CUDA parity


def _spec_for(variant, v_reset: float = -0.1) -> NeuronSpec:
    return NeuronSpec(
        kind=variant.kind,
        v_threshold=0.9,
        v_reset=v_reset if variant.hard_reset else None,
        surrogate=variant.surrogate,
        alpha=SURROGATES[variant.surrogate].default_alpha,
        detach_reset=variant.detach_reset,
        decay_input=variant.decay_input,
        k=1.0 / 3.0,  # not exact in fp32, so (1 - k) must be rounded like torch does
    )


def _norm_rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: relative error that stays meaningful where b crosses zero."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def _grad_w_scale(x, v0, w, spec, grad_x_ref) -> float:
    """sum over (t, n) of |dL/dh * dh/dk| * dk/dw: the size of the terms whose sum is dL/dw.

    Both kernels add the same fp32 terms in different orders (torch: per step over neurons;
    cupy: per neuron over T, then per block), so their difference is bounded by a multiple of
    eps * this sum, not of eps * |dL/dw|, which can be tiny by cancellation.
    """
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        multistep_torch(x.detach().requires_grad_(True), v0, w.detach().sigmoid(), spec)
    h = saved[0].double()
    k = w.detach().double().sigmoid()
    v_prev = torch.cat([v0.double().expand(h.shape[1:]).unsqueeze(0), membrane_after_spike(spec, h[:-1])])
    grad_h = grad_x_ref.double() / k if spec.decay_input else grad_x_ref.double()
    dh_dk = (h - v_prev) / k if spec.decay_input else -(v_prev - spec.reset_value)
    return float((grad_h * dh_dk).abs().sum() * k * (1 - k))


def _inputs(shape, T, dtype, noncontig, generator):
    full = (T,) + tuple(shape[:-1]) + (shape[-1] * 2,)
    x = (torch.randn(full, generator=generator, device="cuda") * 1.5 + 0.6).to(dtype)
    # Cast before slicing: .to() of a strided view would return a contiguous copy.
    return x[..., ::2] if noncontig else x[..., : shape[-1]].contiguous()


def _run(kernel, x, v0, w, spec, grad_s):
    x = x.detach().requires_grad_(True)  # a fresh leaf with the same (maybe strided) layout
    k = w.sigmoid() if w is not None else None
    spikes, v_last = kernel(x, v0, k, spec)
    params = [x] + ([w] if w is not None else [])
    grads = torch.autograd.grad(spikes, params, grad_s)
    return spikes, v_last, grads


@needs_cuda
@pytest.mark.parametrize("variant", _VARIANTS, ids=lambda v: v.name)
def test_cupy_matches_torch(variant):
    dtype = _TORCH_DTYPES[variant.dtype]
    spec = _spec_for(variant)
    g = torch.Generator(device="cuda").manual_seed(zlib.crc32(variant.name.encode()))
    shapes = [((3, 5, 17), 4, False), ((2, 300), 7, True), ((1000,), 1, True), ((2, 3, 8, 8), 16, False)]
    for shape, T, noncontig in shapes:
        x = _inputs(shape, T, dtype, noncontig, g)
        assert x.is_contiguous() != noncontig
        v0 = torch.randn(shape, generator=g, device="cuda") * 0.5
        grad_s = torch.randn((T,) + shape, generator=g, device="cuda").to(dtype)
        ws = [None]
        if variant.kind == "plif":
            ws = [torch.tensor(-math.log(3.0 - 1.0) + 0.3, device="cuda", requires_grad=True) for _ in range(2)]
        w_ref, w_cupy = ws[0], ws[-1]
        s_ref, v_ref, g_ref = _run(multistep_torch, x, v0, w_ref, spec, grad_s)
        s_cp, v_cp, g_cp = _run(multistep_cupy, x, v0, w_cupy, spec, grad_s)
        where = f"{variant.name} shape={shape} T={T} noncontig={noncontig}"
        assert s_cp.dtype == dtype and v_cp.dtype == torch.float32, where
        assert torch.equal(s_cp, s_ref), f"spikes differ: {where}"
        assert torch.equal(v_cp, v_ref), f"v_last differs: {where}"
        tol = 1e-6 if dtype == torch.float32 else 1e-2
        assert _norm_rel_err(g_cp[0], g_ref[0]) <= tol, f"grad x: {where}"
        if w_ref is not None:
            scale = _grad_w_scale(x, v0, w_ref, spec, g_ref[0])
            diff = abs(g_cp[1].item() - g_ref[1].item())
            ref = abs(g_ref[1].item())
            # 1e-6 relative to the summed terms (fp32); half storage only changes grad_x rounding.
            bound = 1e-6 * (ref + scale) if dtype == torch.float32 else 1e-2 * ref + 1e-5 * scale
            assert diff <= bound, f"grad w: {where}: {g_cp[1].item()} vs {g_ref[1].item()} (scale {scale})"


@needs_cuda
@pytest.mark.parametrize("node_cls", [IFNode, LIFNode, PLIFNode])
def test_modules_cupy_vs_torch_with_state_carry(node_cls):
    torch.manual_seed(0)
    kwargs = {} if node_cls is IFNode else {"tau": 3.0}
    a, b = node_cls(backend="cupy", **kwargs).cuda(), node_cls(backend="torch", **kwargs).cuda()
    if node_cls is PLIFNode:
        b.load_state_dict(a.state_dict())
    for _ in range(2):  # the second call starts from the carried v
        x = torch.randn(6, 4, 3, 9, 9, device="cuda") + 0.4
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        sa, sb = a(xa), b(xb)
        assert torch.equal(sa, sb)
        assert torch.equal(a.v, b.v)
        sa.sum().backward()  # expanded (stride 0) incoming gradient
        sb.sum().backward()
        assert _norm_rel_err(xa.grad, xb.grad) <= 1e-6
    if node_cls is PLIFNode:
        assert abs(a.w.grad.item() - b.w.grad.item()) <= 1e-5 * max(abs(b.w.grad.item()), 1e-12)


@needs_cuda
def test_auto_backend_on_cuda_uses_cupy():
    from snn_zoo.neurons import backend

    assert backend.resolve_backend("auto", torch.zeros(1, device="cuda")) == "cupy"
    node = LIFNode(backend="auto").cuda()
    out = node(torch.randn(2, 5, device="cuda", dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and node.v.dtype == torch.float32


@needs_cuda
def test_forward_saves_only_one_T_by_N_tensor():
    x = torch.randn(8, 1024, device="cuda", dtype=torch.float16, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        multistep_cupy(x, torch.zeros(1024, device="cuda"), None, NeuronSpec(kind="lif"))
    big = [t for t in saved if t.numel() >= x.numel()]
    assert len(big) == 1 and big[0].shape == x.shape and big[0].dtype == x.dtype
    assert sum(t.numel() * t.element_size() for t in saved) <= x.numel() * x.element_size()


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("node_cls", [IFNode, LIFNode, PLIFNode])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_compiled_cupy_matches_eager(node_cls, dtype, v_reset):
    # The custom op in a compiled graph runs the same fused kernel: spikes and gradients equal eager.
    torch.manual_seed(0)
    node = node_cls(backend="cupy", v_reset=v_reset).cuda()
    x = (torch.randn(5, 4, 3, 9, 9, device="cuda") + 0.4).to(dtype)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    eager = node(xa)
    eager.backward(torch.ones_like(eager))
    grads = [p.grad.clone() for p in node.parameters()]
    node.zero_grad(set_to_none=True)
    node.reset()
    compiled = torch.compile(node, fullgraph=True, backend="aot_eager")(xb)
    compiled.backward(torch.ones_like(compiled))
    assert torch.equal(compiled, eager) and torch.equal(xb.grad, xa.grad)
    assert all(torch.equal(p.grad, g) for p, g in zip(node.parameters(), grads))


@needs_cuda
def test_compiled_model_inductor_on_cuda():
    import snn_zoo

    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=4, backend="cupy").cuda().train()
    x = torch.rand(8, 1, 8, 8, device="cuda") * 2
    with torch.autocast("cuda", dtype=torch.bfloat16):
        eager = model(x)
        compiled = torch.compile(model, fullgraph=True)(x)
    torch.testing.assert_close(compiled.float(), eager.float(), rtol=2e-2, atol=2e-2)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compiled_auto_backend_is_fused_by_inductor_on_cuda(dtype):
    # backend='auto' under compile: the neuron is plain torch, Inductor writes Triton for it; eager runs cupy.
    from torch._inductor.utils import run_and_get_code

    import snn_zoo

    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=4).cuda().train()
    x = torch.rand(8, 1, 8, 8, device="cuda") * 2
    with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
        eager = model(x)
        torch._dynamo.reset()
        compiled, code = run_and_get_code(torch.compile(model, fullgraph=True), x)
    assert "snn_zoo" not in "\n".join(code) and "triton" in "\n".join(code)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(compiled.float(), eager.float(), rtol=tol, atol=tol)
